//! A minimal Chrome DevTools Protocol client for the browser tests: starts Debian's
//! headless Chromium with a throw-away profile, attaches to its page over the
//! DevTools WebSocket, and offers navigate / evaluate / wait / screenshot. Chromium is
//! killed when the [`Browser`] is dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Where Chromium is, if installed. Under `CI=true` a missing Chromium is a failure,
/// not a skip.
pub fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(o) = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {name}"))
            .output()
        {
            let p = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if o.status.success() && !p.is_empty() {
                return Some(PathBuf::from(p));
            }
        }
    }
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("CI: chromium is required for the browser tests (bash .ci/install-chromium.sh)");
    }
    None
}

pub struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    pub page: Page,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Page {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Events received while waiting for a command's answer.
    events: Vec<Value>,
}

/// Upper bound for any single wait (a hung browser fails the test instead of hanging it).
const WAIT: Duration = Duration::from_secs(30);

impl Browser {
    pub async fn launch(chromium: &Path) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(chromium)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
                "--lang=ja-JP",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID" on stderr
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(i) = line.find("ws://") {
                        let _ = tx.send(line[i..].trim().to_string());
                        sent = true;
                    }
                }
            }
        });
        let browser_ws = rx
            .recv_timeout(WAIT)
            .expect("chromium printed its DevTools address");
        let port: u16 = browser_ws
            .trim_start_matches("ws://127.0.0.1:")
            .split('/')
            .next()
            .unwrap()
            .parse()
            .expect("a port");
        // the page target opened with about:blank
        let mut page_ws = None;
        for _ in 0..100 {
            if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/json/list")).await {
                if let Ok(v) = r.json::<Value>().await {
                    page_ws = v
                        .as_array()
                        .and_then(|a| a.iter().find(|t| t["type"] == "page"))
                        .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(str::to_string));
                    if page_ws.is_some() {
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let url = page_ws.expect("chromium has a page target");
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("DevTools WebSocket connects");
        let mut page = Page {
            ws,
            next_id: 0,
            events: Vec::new(),
        };
        page.call("Page.enable", json!({})).await;
        page.call("Runtime.enable", json!({})).await;
        Browser {
            child,
            _profile: profile,
            page,
        }
    }
}

impl Page {
    async fn recv(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("DevTools answered in time")
                .expect("DevTools connection open")
                .expect("DevTools message");
            if let Message::Text(t) = msg {
                return serde_json::from_str(&t).expect("DevTools sends JSON");
            }
        }
    }

    /// Sends one command and returns its result (panics on a protocol error).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.ws
            .send(Message::Text(
                json!({"id": id, "method": method, "params": params}).to_string(),
            ))
            .await
            .expect("DevTools send");
        loop {
            let v = self.recv().await;
            if v["id"].as_u64() == Some(id) {
                if let Some(e) = v.get("error") {
                    panic!("DevTools {method} failed: {e}");
                }
                return v["result"].clone();
            }
            if v.get("method").is_some() {
                self.events.push(v);
            }
        }
    }

    /// Waits for the next event called `name` (ignoring older ones).
    pub async fn wait_event(&mut self, name: &str) -> Value {
        if let Some(i) = self.events.iter().position(|e| e["method"] == name) {
            return self.events.remove(i);
        }
        loop {
            let v = self.recv().await;
            if v["method"] == name {
                return v;
            }
        }
    }

    /// Evaluates `js` in the page (promises awaited) and returns its value.
    pub async fn eval(&mut self, js: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        if let Some(e) = r.get("exceptionDetails") {
            panic!("page script failed: {js}\n{e}");
        }
        r["result"]["value"].clone()
    }

    /// Navigates and waits for the load event.
    pub async fn goto(&mut self, url: &str) {
        self.events.clear();
        self.call("Page.navigate", json!({"url": url})).await;
        self.wait_event("Page.loadEventFired").await;
    }

    /// Runs `js` that starts a navigation (a click on a submit button, …) and waits
    /// for the new page's load event.
    pub async fn navigate_by(&mut self, js: &str) {
        self.events.clear();
        self.eval(js).await;
        self.wait_event("Page.loadEventFired").await;
    }

    /// Fills the field matching `selector` (as if typed) — values go through JSON, so
    /// any text is safe.
    pub async fn fill(&mut self, selector: &str, value: &str) {
        let js = format!(
            "(() => {{ const el = document.querySelector({}); el.value = {}; el.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()",
            json!(selector),
            json!(value)
        );
        assert_eq!(self.eval(&js).await, json!(true), "no field {selector}");
    }

    pub async fn text(&mut self) -> String {
        self.eval("document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn html(&mut self) -> String {
        self.eval("document.documentElement.outerHTML")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn url(&mut self) -> String {
        self.eval("location.href")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Polls `js` (a boolean expression) until it is true; bounded by [`WAIT`].
    pub async fn wait_until(&mut self, what: &str, js: &str) {
        for _ in 0..300 {
            if self.eval(js).await == json!(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let text = self.text().await;
        panic!("the page never showed {what}; it shows:\n{text}");
    }

    /// A full-page PNG at `width` CSS pixels (`mobile` emulates a phone).
    pub async fn screenshot(&mut self, path: &Path, width: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await;
        let h = self
            .eval("Math.ceil(document.documentElement.scrollHeight)")
            .await
            .as_u64()
            .unwrap_or(800)
            .clamp(400, 4000);
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": h, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await;
        let r = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
        self.call("Emulation.clearDeviceMetricsOverride", json!({}))
            .await;
    }

    /// The page's horizontal overflow at the current width (0 = nothing sticks out).
    pub async fn horizontal_overflow(&mut self) -> i64 {
        self.eval("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            .await
            .as_i64()
            .unwrap_or(0)
    }
}
