use super::*;
use std::collections::HashMap;

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

fn flags(shard: Option<&str>, shards: Option<u32>, launch: Option<&str>) -> ShardFlags {
    ShardFlags {
        shard: shard.map(|s| s.parse().unwrap()),
        shards,
        launch: launch.map(str::to_string),
    }
}

#[test]
fn no_flag_and_no_engine_is_not_a_shard() {
    assert_eq!(placement(&flags(None, None, None), env(&[])), Ok(None));
}

#[test]
fn flags_need_a_launch_id() {
    let error = placement(&flags(Some("1/3"), None, None), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("--launch ID"), "{error}");
    let placed = placement(&flags(Some("1/3"), None, Some("exp-7")), env(&[])).unwrap();
    assert_eq!(
        placed,
        Some(Placement {
            shard: Shard { index: 1, count: 3 },
            launch: "exp-7".into(),
            engine: Engine::Flags
        })
    );
}

#[test]
fn slurm_array_gives_index_count_and_job_id() {
    let slurm = env(&[
        ("SLURM_ARRAY_TASK_ID", "5"),
        ("SLURM_ARRAY_TASK_MIN", "4"),
        ("SLURM_ARRAY_TASK_MAX", "6"),
        ("SLURM_ARRAY_TASK_COUNT", "3"),
        ("SLURM_ARRAY_JOB_ID", "812"),
    ]);
    let placed = placement(&flags(None, None, None), slurm).unwrap().unwrap();
    assert_eq!(placed.shard, Shard { index: 1, count: 3 });
    assert_eq!(
        (placed.launch.as_str(), placed.engine),
        ("812", Engine::Slurm)
    );
    // MIN/MAX alone (older Slurm) give the count too.
    let old = env(&[
        ("SLURM_ARRAY_TASK_ID", "2"),
        ("SLURM_ARRAY_TASK_MAX", "2"),
        ("SLURM_ARRAY_JOB_ID", "9"),
    ]);
    let placed = placement(&flags(None, None, None), old).unwrap().unwrap();
    assert_eq!(placed.shard, Shard { index: 2, count: 3 });
}

#[test]
fn slurm_arrays_with_steps_are_refused() {
    let stepped = env(&[
        ("SLURM_ARRAY_TASK_ID", "2"),
        ("SLURM_ARRAY_TASK_MIN", "0"),
        ("SLURM_ARRAY_TASK_MAX", "4"),
        ("SLURM_ARRAY_TASK_COUNT", "3"),
        ("SLURM_ARRAY_JOB_ID", "9"),
    ]);
    let error = placement(&flags(None, None, None), stepped)
        .unwrap_err()
        .to_string();
    assert!(error.contains("consecutive IDs"), "{error}");
    assert!(error.contains("--array=0-2"), "{error}");
}

#[test]
fn kubernetes_index_takes_the_count_from_the_flag_or_the_variable() {
    let pod = env(&[
        ("JOB_COMPLETION_INDEX", "3"),
        ("LLMBENCH_LAUNCH", "job-abc"),
    ]);
    let placed = placement(&flags(None, Some(4), None), &pod)
        .unwrap()
        .unwrap();
    assert_eq!(placed.shard, Shard { index: 3, count: 4 });
    assert_eq!(placed.engine, Engine::Kubernetes);
    let error = placement(&flags(None, None, None), &pod)
        .unwrap_err()
        .to_string();
    assert!(error.contains("LLMBENCH_SHARDS"), "{error}");
    let counted = env(&[
        ("JOB_COMPLETION_INDEX", "0"),
        ("LLMBENCH_SHARDS", "2"),
        ("LLMBENCH_LAUNCH", "job-abc"),
    ]);
    let placed = placement(&flags(None, None, None), counted)
        .unwrap()
        .unwrap();
    assert_eq!(placed.shard, Shard { index: 0, count: 2 });
}

#[test]
fn the_flag_wins_over_the_engine_and_the_flag_launch_over_the_variable() {
    let both = env(&[
        ("SLURM_ARRAY_TASK_ID", "0"),
        ("SLURM_ARRAY_TASK_COUNT", "2"),
        ("SLURM_ARRAY_JOB_ID", "77"),
        ("LLMBENCH_LAUNCH", "from-env"),
    ]);
    let placed = placement(&flags(Some("1/5"), None, Some("cli")), &both)
        .unwrap()
        .unwrap();
    assert_eq!(placed.shard, Shard { index: 1, count: 5 });
    assert_eq!(placed.launch, "cli");
    let placed = placement(&flags(None, None, None), &both).unwrap().unwrap();
    assert_eq!(placed.launch, "from-env");
}

#[test]
fn bad_values_name_the_variable() {
    let bad = env(&[("JOB_COMPLETION_INDEX", "x1")]);
    let error = placement(&flags(None, Some(2), None), bad)
        .unwrap_err()
        .to_string();
    assert!(error.contains("JOB_COMPLETION_INDEX=x1"), "{error}");
    let error = placement(&flags(Some("0/2"), None, Some("a/b")), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("launch id `a/b`"), "{error}");
    let error = placement(&flags(None, Some(2), None), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("--shards N needs"), "{error}");
}

#[test]
fn an_engine_that_names_a_shard_out_of_range_keeps_the_shard_error_as_cause() {
    use std::error::Error;
    let slurm = env(&[
        ("SLURM_ARRAY_TASK_ID", "5"),
        ("SLURM_ARRAY_TASK_COUNT", "0"),
        ("SLURM_ARRAY_JOB_ID", "9"),
    ]);
    let error = placement(&flags(None, None, None), slurm).unwrap_err();
    assert!(
        matches!(
            &error,
            ShardError::Engine {
                engine: "Slurm array",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.source().map(|e| e.to_string()),
        Some(ShardError::NoShards.to_string())
    );
    assert_eq!(
        error.to_string(),
        "Slurm array: a launch needs at least 1 shard (N ≥ 1)"
    );
}
