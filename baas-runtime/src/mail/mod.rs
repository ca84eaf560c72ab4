//! Mail: what the runtime sends ([`Mail`], rendered from [`templates`]), the settings that
//! address it, and the outbox transports that deliver it: SMTP through lettre (`serve --smtp
//! smtp://…`, `smtps://…`), or the log, for development (`serve --smtp log`).

pub mod templates;

use std::future::Future;
use std::pin::Pin;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::outbox::{Message, Transport};

/// The outbox kind of mail messages.
pub const KIND: &str = "mail";

/// One mail, as the outbox stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub html: String,
    pub text: String,
}

impl Mail {
    /// The outbox message delivering this mail; `topic` says what it is about, for throttles.
    pub fn message(&self, topic: impl Into<String>) -> Message {
        Message {
            kind: KIND,
            topic: topic.into(),
            payload: serde_json::to_value(self).expect("strings always serialize"),
        }
    }
}

/// How the mails of a running backend are addressed: the application's name and public URL
/// (for links and the templates' `{APP_NAME}`, `{APP_URL}`) and the sender.
#[derive(Clone, Debug)]
pub struct MailSettings {
    pub app_name: String,
    pub app_url: String,
    pub from: Mailbox,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            app_name: "baas".into(),
            app_url: "http://127.0.0.1:8090".into(),
            from: "noreply@localhost".parse().expect("a valid address"),
        }
    }
}

/// How long an SMTP command may take before the delivery fails (and is retried).
const SMTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Where mail goes, as `serve --smtp` says.
pub enum Mailer {
    /// An SMTP server.
    Smtp { transport: AsyncSmtpTransport<Tokio1Executor>, from: Mailbox },
    /// The log: each mail is printed instead of sent.
    Log,
}

impl Mailer {
    /// The mailer for `serve --smtp URL`: `log`, `smtps://user:pass@host:465` (TLS),
    /// `smtp://user:pass@host:587` (STARTTLS required, except on a loopback host, where plain
    /// SMTP is accepted; `?tls=none|opportunistic|required` says otherwise).
    pub fn from_url(url: &str, from: Mailbox) -> Result<Mailer, String> {
        if url == "log" {
            return Ok(Mailer::Log);
        }
        let url = with_tls_default(url)?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
            .map_err(|e| format!("{}: {e}", redacted(&url)))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Mailer::Smtp { transport, from })
    }
}

/// `url` as lettre takes it: an `smtp://` URL that says nothing of TLS gets `tls=required`
/// unless its host is a loopback address (credentials never cross a network in clear by
/// default), and `tls=none` (plain SMTP, said explicitly) is dropped.
fn with_tls_default(url: &str) -> Result<String, String> {
    if url.starts_with("smtps://") {
        return Ok(url.to_owned());
    }
    let Some(rest) = url.strip_prefix("smtp://") else {
        return Err(format!("{}: not an SMTP URL (smtp://…, smtps://… or `log`)", redacted(url)));
    };
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    let tls = pairs.iter().find_map(|p| p.strip_prefix("tls=")).map(str::to_owned);
    match tls.as_deref() {
        Some("none") => pairs.retain(|p| !p.starts_with("tls=")),
        Some(_) => {}
        None => {
            let authority = rest.split(['/', '?']).next().unwrap_or_default();
            let host = authority.rsplit('@').next().unwrap_or_default();
            let host = match host.strip_prefix('[') {
                Some(v6) => v6.split(']').next().unwrap_or_default(),
                None => host.split(':').next().unwrap_or_default(),
            };
            let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                pairs.push("tls=required");
            }
        }
    }
    Ok(if pairs.is_empty() { base.to_owned() } else { format!("{base}?{}", pairs.join("&")) })
}

/// `s` safe in HTML text and attribute values: for a value of a user's in a mail's HTML body.
///
/// ```
/// assert_eq!(baas_runtime::mail::escape_html("<b>Ann</b> & co"), "&lt;b&gt;Ann&lt;/b&gt; &amp; co");
/// ```
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `url` without its password, for messages.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Transport for Mailer {
    fn deliver<'a>(&'a self, payload: &'a Value) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let mail: Mail = serde_json::from_value(payload.clone()).map_err(|e| format!("not a mail: {e}"))?;
            match self {
                Mailer::Log => {
                    tracing::info!(to = %mail.to, subject = %mail.subject, "mail (--smtp log):\n{}", mail.text);
                    Ok(())
                }
                Mailer::Smtp { transport, from } => {
                    let to: Mailbox = mail.to.parse().map_err(|e| format!("recipient {}: {e}", mail.to))?;
                    let message = lettre::Message::builder()
                        .from(from.clone())
                        .to(to)
                        .subject(mail.subject)
                        .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
                        .map_err(|e| e.to_string())?;
                    transport.send(message).await.map(drop).map_err(|e| e.to_string())
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_require_tls_off_the_loopback() {
        let ok = |url: &str| with_tls_default(url).expect("an SMTP URL");
        assert_eq!(ok("smtp://127.0.0.1:2525"), "smtp://127.0.0.1:2525");
        assert_eq!(ok("smtp://u:p@localhost:25"), "smtp://u:p@localhost:25");
        assert_eq!(ok("smtp://[::1]:25"), "smtp://[::1]:25");
        assert_eq!(ok("smtp://u:p@mail.example.com:587"), "smtp://u:p@mail.example.com:587?tls=required");
        assert_eq!(ok("smtp://mail.example.com?x=1"), "smtp://mail.example.com?x=1&tls=required");
        assert_eq!(ok("smtp://mail.example.com?tls=none"), "smtp://mail.example.com");
        assert_eq!(ok("smtp://mail.example.com?tls=opportunistic"), "smtp://mail.example.com?tls=opportunistic");
        assert_eq!(ok("smtps://u:p@mail.example.com"), "smtps://u:p@mail.example.com");
        assert!(with_tls_default("http://mail.example.com").is_err());
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(redacted("smtp://me:s3cret@mail.example.com:587"), "smtp://me:***@mail.example.com:587");
        assert_eq!(redacted("smtp://mail.example.com"), "smtp://mail.example.com");
    }

    #[tokio::test]
    async fn mailers_are_made_from_urls() {
        let from: Mailbox = "Acme <noreply@acme.test>".parse().expect("mailbox");
        assert!(matches!(Mailer::from_url("log", from.clone()), Ok(Mailer::Log)));
        assert!(matches!(Mailer::from_url("smtp://127.0.0.1:2525", from.clone()), Ok(Mailer::Smtp { .. })));
        let error = Mailer::from_url("ftp://u:secret@x", from).err().expect("refused");
        assert!(error.contains("not an SMTP URL") && !error.contains("secret"), "{error}");
    }
}
