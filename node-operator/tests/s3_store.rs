//! Real S3 round trip against moto's server (`pip install 'moto[server]==5.2.1'`), started here
//! as a child process on a free port. Without moto the test prints a loud SKIPPED line; with
//! CI=true it fails.

mod support;

use ake_node::output_store::OutputStore;
use ake_node::outputs::{OutputManifest, RunFacts, UsageReceipt};
use support::{create_bucket, start_moto};

#[tokio::test]
async fn s3_round_trip_through_moto() {
    let Some(moto) = start_moto() else {
        return;
    };
    create_bucket(moto.port, "ake-outputs");
    // Only test in this binary, so setting the process environment cannot race.
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(out.join("ckpt")).unwrap();
    std::fs::write(out.join("result.json"), br#"{"accuracy":0.93}"#).unwrap();
    let big: Vec<u8> = (0..(17u32 << 20)).map(|i| (i % 253) as u8).collect();
    std::fs::write(out.join("ckpt/weights.bin"), &big).unwrap();
    let facts = RunFacts {
        stdout_sha256: [3; 32],
        stderr_sha256: [4; 32],
        image_digest: format!("sha256:{}", "a".repeat(64)),
        spec_hash: "b".repeat(64),
        exit_code: 0,
        usage: UsageReceipt {
            wall_secs: 10,
            gpu_secs: 10,
            energy_mj: 1234,
        },
    };
    let manifest = OutputManifest::build(&out, facts, ake_node::outputs::OutputLimits::NONE)
        .await
        .unwrap();

    let url = format!(
        "s3://ake-outputs/node-7?region=us-east-1&endpoint=http://127.0.0.1:{}",
        moto.port
    );
    let store = OutputStore::from_url(&url).unwrap();
    let uri = store
        .put_dir("job-9", &out, &manifest, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        uri,
        format!("s3://ake-outputs/node-7/jobs/job-9/{}", manifest.root_hex())
    );
    // A retried upload after a crash finds the manifest and returns the same URI.
    assert_eq!(
        store
            .put_dir("job-9", &out, &manifest, &Default::default())
            .await
            .unwrap(),
        uri
    );

    let dest = tmp.path().join("downloaded");
    let fetched = store.fetch_dir(&uri, &dest).await.unwrap();
    assert_eq!(fetched, manifest);
    assert_eq!(std::fs::read(dest.join("ckpt/weights.bin")).unwrap(), big);
    assert_eq!(
        std::fs::read(dest.join("result.json")).unwrap(),
        br#"{"accuracy":0.93}"#
    );

    let missing = format!("s3://ake-outputs/node-7/jobs/job-9/{}", "0".repeat(64));
    let err = store
        .fetch_dir(&missing, &tmp.path().join("none"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("manifest.json"), "{err}");
    assert!(
        !err.is_retryable(),
        "a missing upload is not a transient error: {err}"
    );
}
