//! Files in an S3-compatible bucket: the chat backend serves with `--storage s3://…` against a
//! local S3 server (moto, from PyPI: `pip install 'moto[server]'`) started here, and the
//! PocketBase JS SDK runs the files suite (tests/sdk/chat) against it — uploads, downloads,
//! thumbnails, protected files, and a bucket left clean after deletes.

mod support;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `moto_server`; killed when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let args = ["-H", "127.0.0.1", "-p", &port.to_string()].map(str::to_owned);
        let spawn = |program: &str, pre: &[&str]| {
            Command::new(program).args(pre).args(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn()
        };
        let child =
            spawn("moto_server", &[]).or_else(|_| spawn("python3", &["-m", "moto.server"])).unwrap_or_else(|e| {
                panic!("cannot start moto_server ({e}): install it with `pip install 'moto[server]'` (.ci/run does)")
            });
        let mut moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return moto;
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited ({status}): is `pip install 'moto[server]'` done?");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("moto_server did not listen on {}", moto.endpoint);
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn pocketbase_js_sdk_files_with_s3_storage() {
    let moto = Moto::start();
    let (status, body) = support::request_text("PUT", &format!("{}/baas-files", moto.endpoint), None, None);
    assert_eq!(status, 200, "create the bucket: {body}");
    // moto accepts any credentials; they travel in the URL here, from AWS_* variables in production.
    let storage = format!(
        "s3://baas-files?endpoint={}&region=us-east-1&access_key_id=test&secret_access_key=test",
        moto.endpoint
    );
    let server = support::start_with_files(support::chat_binary(), support::Engine::from_env(), Some(&storage));
    support::run_sdk_tests(&server, "tests/sdk/chat");
    drop(server);
}
