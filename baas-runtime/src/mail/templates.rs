//! Mail templates: a subject, an HTML body and a text body with PocketBase's placeholders
//! (`{APP_NAME}`, `{APP_URL}`, `{TOKEN}`, `{OTP}`, `{OTP_ID}`, `{RECORD:field}`), the
//! defaults for each account mail, and their rendering (values HTML-escaped in the HTML body).

use std::borrow::Cow;

use baas_schema::ir::MailTemplates;
use serde_json::Value;

use super::Mail;

/// A record's fields, for `{RECORD:field}`.
type Record = serde_json::Map<String, Value>;

/// A mail with placeholders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub subject: Cow<'static, str>,
    pub html: Cow<'static, str>,
    pub text: Cow<'static, str>,
}

/// The account mails, each with a default template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Verification,
    PasswordReset,
    EmailChange,
    Otp,
}

impl Kind {
    /// The template used when the schema gives none.
    pub fn default_template(self) -> Template {
        let (subject, html, text) = match self {
            Kind::Verification => (
                "Verify your {APP_NAME} email",
                "<p>Hello,</p>\n<p>Thanks for signing up to {APP_NAME}. Confirm that this address is yours:</p>\n\
                 <p><a href=\"{APP_URL}/_/#/auth/confirm-verification/{TOKEN}\">Verify my email</a></p>\n\
                 <p>If you did not sign up, ignore this mail.</p>\n<p>The {APP_NAME} team</p>",
                "Hello,\n\nThanks for signing up to {APP_NAME}. Confirm that this address is yours:\n\n\
                 {APP_URL}/_/#/auth/confirm-verification/{TOKEN}\n\nIf you did not sign up, ignore this mail.\n\n\
                 The {APP_NAME} team\n",
            ),
            Kind::PasswordReset => (
                "Reset your {APP_NAME} password",
                "<p>Hello,</p>\n<p>Someone asked to reset the password of your {APP_NAME} account. Choose a new one:</p>\n\
                 <p><a href=\"{APP_URL}/_/#/auth/confirm-password-reset/{TOKEN}\">Reset my password</a></p>\n\
                 <p>If it was not you, ignore this mail: your password stays as it is.</p>\n<p>The {APP_NAME} team</p>",
                "Hello,\n\nSomeone asked to reset the password of your {APP_NAME} account. Choose a new one:\n\n\
                 {APP_URL}/_/#/auth/confirm-password-reset/{TOKEN}\n\nIf it was not you, ignore this mail: your \
                 password stays as it is.\n\nThe {APP_NAME} team\n",
            ),
            Kind::EmailChange => (
                "Confirm your new {APP_NAME} email address",
                "<p>Hello,</p>\n<p>Confirm this address as the new email of your {APP_NAME} account:</p>\n\
                 <p><a href=\"{APP_URL}/_/#/auth/confirm-email-change/{TOKEN}\">Confirm my new email</a></p>\n\
                 <p>If you did not ask for this, ignore this mail.</p>\n<p>The {APP_NAME} team</p>",
                "Hello,\n\nConfirm this address as the new email of your {APP_NAME} account:\n\n\
                 {APP_URL}/_/#/auth/confirm-email-change/{TOKEN}\n\nIf you did not ask for this, ignore this mail.\n\n\
                 The {APP_NAME} team\n",
            ),
            Kind::Otp => (
                "Your {APP_NAME} sign-in code",
                "<p>Hello,</p>\n<p>Your one-time code to sign in to {APP_NAME}:</p>\n<p><strong>{OTP}</strong></p>\n\
                 <p>If you did not ask for it, ignore this mail.</p>\n<p>The {APP_NAME} team</p>",
                "Hello,\n\nYour one-time code to sign in to {APP_NAME}: {OTP}\n\nIf you did not ask for it, ignore \
                 this mail.\n\nThe {APP_NAME} team\n",
            ),
        };
        Template { subject: subject.into(), html: html.into(), text: text.into() }
    }
}

impl Kind {
    /// The template a collection sends for this mail: its own parts (the schema's
    /// `auth.templates`), the default's for the parts it leaves out.
    pub fn template(self, custom: &MailTemplates) -> Template {
        let mut template = self.default_template();
        let own = match self {
            Kind::Verification => &custom.verification,
            Kind::PasswordReset => &custom.password_reset,
            Kind::EmailChange => &custom.email_change,
            Kind::Otp => &custom.otp,
        };
        if let Some(own) = own {
            let part = |text: &Option<String>, default: &mut Cow<'static, str>| {
                if let Some(text) = text {
                    *default = Cow::Owned(text.clone());
                }
            };
            part(&own.subject, &mut template.subject);
            part(&own.html, &mut template.html);
            part(&own.text, &mut template.text);
        }
        template
    }
}

/// The values a template's placeholders take.
#[derive(Clone, Copy, Debug)]
pub struct Values<'a> {
    pub app_name: &'a str,
    pub app_url: &'a str,
    pub token: &'a str,
    pub otp: &'a str,
    pub otp_id: &'a str,
    /// For `{RECORD:field}`: the record the mail is about.
    pub record: &'a Record,
}

impl Template {
    /// The mail to `to`: placeholders replaced, HTML-escaped in the HTML body.
    pub fn render(&self, to: &str, values: &Values<'_>) -> Mail {
        Mail {
            to: to.to_owned(),
            subject: fill(&self.subject, values, false),
            html: fill(&self.html, values, true),
            text: fill(&self.text, values, false),
        }
    }
}

/// `text` with each known placeholder replaced; unknown ones stay as written.
fn fill(text: &str, values: &Values<'_>, html: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            rest = &rest[open..];
            break;
        };
        let name = &after[..close];
        match value(name, values) {
            Some(value) if html => out.push_str(&super::escape_html(&value)),
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

fn value<'a>(name: &str, values: &Values<'a>) -> Option<Cow<'a, str>> {
    Some(match name {
        "APP_NAME" => values.app_name.into(),
        "APP_URL" => values.app_url.trim_end_matches('/').into(),
        "TOKEN" => values.token.into(),
        "OTP" => values.otp.into(),
        "OTP_ID" => values.otp_id.into(),
        _ => {
            let field = name.strip_prefix("RECORD:")?;
            match values.record.get(field)? {
                Value::String(s) => s.clone().into(),
                Value::Null => Cow::Borrowed(""),
                other => other.to_string().into(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn placeholders_are_filled_and_escaped_in_html_only() {
        let record = json!({"name": "<b>Ann</b> & co", "age": 7}).as_object().cloned().expect("object");
        let values = Values {
            app_name: "Acme",
            app_url: "https://acme.test/",
            token: "t.o.k",
            otp: "123456",
            otp_id: "o1",
            record: &record,
        };
        let template = Template {
            subject: "Hi {RECORD:name} from {APP_NAME}".into(),
            html: "<a href=\"{APP_URL}/x/{TOKEN}\">{RECORD:name}</a> {RECORD:age} {OTP} {UNKNOWN} {RECORD:missing} {"
                .into(),
            text: "{RECORD:name}: {OTP_ID}".into(),
        };
        let mail = template.render("ann@acme.test", &values);
        assert_eq!(mail.subject, "Hi <b>Ann</b> & co from Acme");
        assert_eq!(
            mail.html,
            "<a href=\"https://acme.test/x/t.o.k\">&lt;b&gt;Ann&lt;/b&gt; &amp; co</a> 7 123456 {UNKNOWN} {RECORD:missing} {"
        );
        assert_eq!(mail.text, "<b>Ann</b> & co: o1");
        assert_eq!(mail.to, "ann@acme.test");
    }

    #[test]
    fn the_defaults_carry_their_token_or_code() {
        let record = serde_json::Map::new();
        let values =
            Values { app_name: "Acme", app_url: "http://x", token: "TKN", otp: "987654", otp_id: "", record: &record };
        for kind in [Kind::Verification, Kind::PasswordReset, Kind::EmailChange] {
            let mail = kind.default_template().render("a@b.c", &values);
            assert!(mail.html.contains("http://x/_/#/auth/confirm-") && mail.html.contains("/TKN\""), "{mail:?}");
            assert!(mail.text.contains("/TKN\n") && mail.subject.contains("Acme"), "{mail:?}");
        }
        let otp = Kind::Otp.default_template().render("a@b.c", &values);
        assert!(otp.html.contains("987654") && otp.text.contains("987654"));
    }
}
