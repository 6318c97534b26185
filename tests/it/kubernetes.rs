//! deploy/kubernetes: the manifests parse, fit together (the volume, the
//! shard count, the launch id, the merge's paths) and their arguments and
//! environment reach the same code as `--shard K/N`: each pod's
//! JOB_COMPLETION_INDEX gives the shard the flag would. No cluster runs
//! here; docs/scale-out.md says so.

use clap::Parser;
use llmbench::cli::{Cli, Command};
use llmbench::plan::shard::Shard;
use llmbench::plan::shard_env::{placement, run_name, Engine, Placement, ShardFlags};
use serde::Deserialize;
use serde_yaml::Value;
use std::collections::HashMap;
use std::path::Path;

fn documents(name: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/kubernetes")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("manifest");
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value:?}"))
}

fn container(job: &Value) -> &Value {
    &job["spec"]["template"]["spec"]["containers"][0]
}

fn args(job: &Value) -> Vec<String> {
    let list = container(job)["args"].as_sequence().expect("args");
    std::iter::once("llmbench".to_string())
        .chain(list.iter().map(|a| text(a).to_string()))
        .collect()
}

#[test]
fn the_indexed_job_gives_each_pod_the_shard_the_flag_would() {
    let job = &documents("shards-job.yaml")[0];
    assert_eq!(text(&job["kind"]), "Job");
    let spec = &job["spec"];
    assert_eq!(text(&spec["completionMode"]), "Indexed");
    let completions = spec["completions"].as_u64().expect("completions");
    assert_eq!(
        spec["parallelism"].as_u64(),
        Some(completions),
        "split = load needs every client at once"
    );
    let env: HashMap<&str, &Value> = container(job)["env"]
        .as_sequence()
        .expect("env")
        .iter()
        .map(|e| (text(&e["name"]), e))
        .collect();
    assert_eq!(
        text(&env["LLMBENCH_SHARDS"]["value"]),
        completions.to_string()
    );
    let launch_from = text(&env["LLMBENCH_LAUNCH"]["valueFrom"]["fieldRef"]["fieldPath"]);
    assert_eq!(
        launch_from,
        "metadata.labels['batch.kubernetes.io/job-name']"
    );
    let Command::Exec(exec) = Cli::try_parse_from(args(job))
        .expect("the args parse")
        .command
    else {
        panic!("the shards run llmbench exec");
    };
    let job_name = text(&job["metadata"]["name"]);
    let count = u32::try_from(completions).expect("small");
    for index in 0..count {
        // What Kubernetes sets in pod `index`.
        let pod: HashMap<String, String> = HashMap::from([
            ("JOB_COMPLETION_INDEX".into(), index.to_string()),
            ("LLMBENCH_SHARDS".into(), count.to_string()),
            ("LLMBENCH_LAUNCH".into(), job_name.to_string()),
        ]);
        let flags = ShardFlags {
            shard: exec.shard,
            shards: exec.shards,
            launch: exec.launch.clone(),
        };
        let from_pod = placement(&flags, |name| pod.get(name).cloned()).expect("valid");
        let by_flag = placement(
            &ShardFlags {
                shard: Some(Shard::new(index, count).expect("shard")),
                shards: None,
                launch: Some(job_name.into()),
            },
            |_| None,
        )
        .expect("valid");
        let expected = Placement {
            engine: Engine::Kubernetes,
            ..by_flag.expect("a shard")
        };
        assert_eq!(from_pod, Some(expected), "pod {index}");
    }
    // The run directories and the barrier go to the shared volume.
    let mounts = container(job)["volumeMounts"]
        .as_sequence()
        .expect("mounts");
    let runs = mounts
        .iter()
        .find(|m| text(&m["name"]) == "runs")
        .expect("runs mount");
    assert!(exec.out.starts_with(text(&runs["mountPath"])));
    assert!(exec
        .barrier
        .as_ref()
        .expect("a barrier")
        .starts_with(text(&runs["mountPath"])));
}

#[test]
fn storage_experiment_and_merge_fit_the_shards_job() {
    let storage = documents("storage.yaml");
    let claim = storage
        .iter()
        .find(|d| text(&d["kind"]) == "PersistentVolumeClaim")
        .expect("pvc");
    assert_eq!(text(&claim["spec"]["accessModes"][0]), "ReadWriteMany");
    let shards = &documents("shards-job.yaml")[0];
    let merge = &documents("merge-job.yaml")[0];
    for job in [shards, merge] {
        let volumes = job["spec"]["template"]["spec"]["volumes"]
            .as_sequence()
            .expect("volumes");
        let runs = volumes
            .iter()
            .find(|v| text(&v["name"]) == "runs")
            .expect("runs volume");
        assert_eq!(
            runs["persistentVolumeClaim"]["claimName"],
            claim["metadata"]["name"]
        );
    }
    // The experiment in the ConfigMap loads, and names the merge's paths.
    let map = storage
        .iter()
        .find(|d| text(&d["kind"]) == "ConfigMap")
        .expect("configmap");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("experiment.toml");
    std::fs::write(&file, text(&map["data"]["experiment.toml"])).expect("write");
    let experiment = llmbench::experiment::load(&file, &[]).expect("the example experiment loads");
    let Command::Merge(args) = Cli::try_parse_from(args(merge))
        .expect("the args parse")
        .command
    else {
        panic!("the follow-up Job runs llmbench merge");
    };
    let launch = text(&shards["metadata"]["name"]);
    let shard = Placement {
        shard: Shard::new(0, 3).expect("shard"),
        launch: launch.into(),
        engine: Engine::Kubernetes,
    };
    let pattern = format!("/runs/{}/{launch}-shard-*", experiment.name);
    assert_eq!(args.runs, std::slice::from_ref(&pattern));
    let first = format!("/runs/{}/{}", experiment.name, run_name(&shard));
    assert!(
        glob::Pattern::new(&pattern).expect("glob").matches(&first),
        "{first}"
    );
    assert_eq!(
        args.out,
        Path::new(&format!("/runs/{}/{launch}", experiment.name))
    );
}
