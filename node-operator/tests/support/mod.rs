//! Shared by the Docker-backed tests: the engine (a loud skip outside CI, a
//! failure under CI=true) and a test image built here FROM scratch from
//! Debian's static busybox and a static C memory hog.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use ake_node::config::RuntimeSettings;
use ake_node::runtime::DockerRuntime;

pub const BUSYBOX: &str = "/bin/busybox";

const MEMHOG_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    unsigned long mb = argc > 1 ? strtoul(argv[1], 0, 10) : 256;
    for (unsigned long i = 0; i < mb; i++) {
        char *p = malloc(1 << 20);
        if (!p) { puts("malloc failed"); return 2; }
        memset(p, 1, 1 << 20);
    }
    printf("allocated %lu MiB\n", mb);
    return 0;
}
"#;

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Connects to Docker; `None` (after a loud message) when there is no engine outside CI.
pub async fn runtime(settings: RuntimeSettings, test: &str) -> Option<DockerRuntime> {
    match DockerRuntime::connect(settings, vec![]).await {
        Ok(rt) => Some(rt),
        Err(e) if in_ci() => panic!("CI=true but no usable Docker engine for {test}: {e}"),
        Err(e) => {
            // Straight to stderr: the harness captures eprintln! of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!! SKIPPED docker test `{test}`: no Docker engine ({e}) !!!!!\n"
            );
            None
        }
    }
}

/// The test image is shared by the tests running at the same time and removed by the last one.
static IMAGE: Mutex<(Option<String>, usize)> = Mutex::new((None, 0));

pub struct TestImage {
    pub tag: String,
}

impl TestImage {
    pub fn acquire() -> Self {
        let mut image = IMAGE.lock().unwrap_or_else(|e| e.into_inner());
        if image.0.is_none() {
            image.0 = Some(build_test_image());
        }
        image.1 += 1;
        Self {
            tag: image.0.clone().unwrap(),
        }
    }

    pub fn id(&self) -> String {
        let out = docker(&["image", "inspect", "--format", "{{.Id}}", &self.tag]);
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

impl Drop for TestImage {
    fn drop(&mut self) {
        let mut image = IMAGE.lock().unwrap_or_else(|e| e.into_inner());
        image.1 -= 1;
        if image.1 == 0 {
            if let Some(tag) = image.0.take() {
                let _ = docker(&["rmi", "-f", &tag]);
            }
        }
    }
}

pub fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI must be installed to build the test image")
}

pub fn build_test_image() -> String {
    assert!(
        Path::new(BUSYBOX).exists(),
        "{BUSYBOX} missing: install it with `apt-get install -y busybox-static`"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(BUSYBOX, dir.path().join("busybox")).unwrap();
    std::fs::write(dir.path().join("memhog.c"), MEMHOG_C).unwrap();
    let gcc = Command::new("gcc")
        .args(["-static", "-O1", "-o", "memhog", "memhog.c"])
        .current_dir(dir.path())
        .output()
        .expect("gcc is needed to build the OOM helper (apt-get install -y gcc libc6-dev)");
    assert!(
        gcc.status.success(),
        "gcc -static failed (need libc6-dev): {}",
        String::from_utf8_lossy(&gcc.stderr)
    );
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY memhog /bin/memhog\nLABEL ake.test=1\n",
    )
    .unwrap();
    let tag = format!("ake-node-test:{}", unique());
    let out = docker(&["build", "-q", "-t", &tag, dir.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "docker build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    tag
}

pub fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}
