//! The deployment files under `deploy/` checked against the code they deploy, without a Docker
//! engine or a cluster: every YAML and JSON file parses; every service the compose file and the
//! Kubernetes manifests run is a real `lienthong` subcommand; probes and health checks hit the
//! runtime's real health paths on the configured port; the config file loads with the
//! environment each container gets; the Dockerfile copies paths that exist; the dashboard queries
//! only metrics the code registers. Schema validators run when installed
//! (`pip install check-jsonschema kubernetes-validate`; kubectl for kustomize), and say so when
//! they are not.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use lienthong_tests::process::Service;
use lienthong_tests::{lienthong, text};
use serde_json::Value as Json;
use serde_norway::Value as Yaml;

/// Every service of the pipeline, by subcommand.
const SERVICES: [&str; 9] = [
    "source-postgres",
    "source-mysql",
    "translate",
    "resolve",
    "sink",
    "store",
    "share",
    "lookup",
    "platform-sim",
];

/// The simulator is its own HTTP server, not a runtime service: its health path is its own.
const SIMULATOR: &str = "platform-sim";
const SIMULATOR_HEALTH_PATH: &str = "/_sim/health";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn deploy() -> PathBuf {
    root().join("deploy")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every document of a YAML file, with `<<` merge keys applied (compose uses them).
fn yaml_documents(path: &Path) -> Vec<Yaml> {
    let text = read(path);
    let mut docs = Vec::new();
    // Documents are separated by `---` lines.
    let mut documents = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            documents.push(String::new());
        } else {
            let current = documents.last_mut().unwrap();
            current.push_str(line);
            current.push('\n');
        }
    }
    for document in &documents {
        let mut value: Yaml = serde_norway::from_str(document)
            .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
        value
            .apply_merge()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if !value.is_null() {
            docs.push(value);
        }
    }
    docs
}

fn yaml(path: &Path) -> Yaml {
    let mut docs = yaml_documents(path);
    assert_eq!(docs.len(), 1, "{}: one document expected", path.display());
    docs.remove(0)
}

fn str_of<'a>(value: &'a Yaml, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what}: not a string: {value:?}"))
}

fn strings(value: &Yaml) -> Vec<String> {
    value
        .as_sequence()
        .map(|s| {
            s.iter()
                .map(|v| match v {
                    Yaml::String(s) => s.clone(),
                    other => serde_norway::to_string(other).unwrap().trim().to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An environment section (`KEY: value` map) as strings.
fn env_map(value: &Yaml) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    if let Some(map) = value.as_mapping() {
        for (k, v) in map {
            let v = match v {
                Yaml::String(s) => s.clone(),
                other => serde_norway::to_string(other).unwrap().trim().to_string(),
            };
            env.insert(str_of(k, "env key").to_string(), v);
        }
    }
    env
}

/// The subcommands `lienthong --help` lists.
fn subcommands() -> BTreeSet<String> {
    let out = lienthong(&["--help"], &[]);
    assert!(out.status.success(), "{:?}", text(&out));
    let (help, _) = text(&out);
    let mut commands = BTreeSet::new();
    let mut in_commands = false;
    for line in help.lines() {
        if line.starts_with("Commands:") {
            in_commands = true;
        } else if in_commands && line.trim().is_empty() {
            break;
        } else if in_commands && line.starts_with("  ") && !line.starts_with("   ") {
            commands.insert(line.split_whitespace().next().unwrap().to_string());
        }
    }
    assert!(commands.contains("translate"), "{help}");
    commands
}

/// The deploy config, parsed.
fn deploy_config() -> toml::Table {
    toml::from_str(&read(&deploy().join("config/lienthong.toml"))).unwrap()
}

fn port_of(listen: &str) -> u16 {
    listen.rsplit(':').next().unwrap().parse().unwrap()
}

/// The port of the runtime's health listener in the deploy config.
fn health_port() -> u16 {
    let config = deploy_config();
    port_of(config["health"]["listen"].as_str().unwrap())
}

/// The simulator's port in its deploy config.
fn simulator_port() -> u16 {
    let config: toml::Table =
        toml::from_str(&read(&deploy().join("config/platform-sim.toml"))).unwrap();
    port_of(config["listen"].as_str().unwrap())
}

/// The runtime's liveness and readiness paths, read from the code that serves them.
fn runtime_health_paths() -> (&'static str, &'static str) {
    let code = read(&root().join("crates/lienthong-runtime/src/health.rs"));
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert!(
            code.contains(&format!(".route(\"{path}\"")),
            "the runtime no longer serves {path}: update deploy/"
        );
    }
    let sim = read(&root().join("crates/lienthong-platform-sim/src/server.rs"));
    assert!(
        sim.contains(&format!(".route(\"{SIMULATOR_HEALTH_PATH}\"")),
        "the simulator no longer serves {SIMULATOR_HEALTH_PATH}: update deploy/"
    );
    ("/healthz", "/readyz")
}

fn compose() -> Yaml {
    yaml(&deploy().join("compose.yaml"))
}

/// Compose services running the lienthong image, by name.
fn lienthong_services(compose: &Yaml) -> BTreeMap<String, Yaml> {
    compose["services"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, s)| s["image"].as_str() == Some("lienthong:dev"))
        .map(|(name, s)| (str_of(name, "service").to_string(), s.clone()))
        .collect()
}

/// Every Kubernetes object of deploy/k8s, by (kind, name).
fn k8s_objects() -> BTreeMap<(String, String), Yaml> {
    let mut objects = BTreeMap::new();
    let mut files = Vec::new();
    files_under(&deploy().join("k8s"), &mut files);
    for file in files {
        if file.file_name().unwrap() == "kustomization.yaml" {
            continue;
        }
        for doc in yaml_documents(&file) {
            let kind = str_of(&doc["kind"], "kind").to_string();
            let name = str_of(&doc["metadata"]["name"], "name").to_string();
            assert!(
                objects.insert((kind.clone(), name.clone()), doc).is_none(),
                "{kind}/{name} is defined twice"
            );
        }
    }
    objects
}

#[test]
fn every_yaml_and_json_file_under_deploy_parses() {
    let mut files = Vec::new();
    files_under(&deploy(), &mut files);
    let mut checked = 0;
    for file in &files {
        match file.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => {
                assert!(
                    !yaml_documents(file).is_empty(),
                    "{} is empty",
                    file.display()
                );
                checked += 1;
            }
            Some("json") => {
                serde_json::from_str::<Json>(&read(file))
                    .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", file.display()));
                checked += 1;
            }
            Some("toml") => {
                toml::from_str::<toml::Table>(&read(file))
                    .unwrap_or_else(|e| panic!("{} is not valid TOML: {e}", file.display()));
            }
            _ => {}
        }
    }
    assert!(
        checked >= 12,
        "only {checked} YAML/JSON files under deploy/"
    );
}

#[test]
fn compose_runs_every_service_as_a_real_subcommand_with_health_checks() {
    let commands = subcommands();
    let (_, ready) = runtime_health_paths();
    let compose = compose();
    let services = lienthong_services(&compose);
    let mut ran = BTreeSet::new();
    for (name, service) in &services {
        let command = strings(&service["command"]);
        let sub = command
            .first()
            .unwrap_or_else(|| panic!("{name}: no command"));
        assert!(
            commands.contains(sub),
            "{name} runs `lienthong {sub}`, which `lienthong --help` does not list"
        );
        ran.insert(sub.clone());
        // --config names a file mounted from deploy/.
        let at = command.iter().position(|a| a == "--config").unwrap();
        let config = &command[at + 1];
        let mounted = strings(&service["volumes"]).into_iter().any(|v| {
            let mut parts = v.split(':');
            let (source, target) = (parts.next().unwrap(), parts.next().unwrap_or_default());
            target == config && deploy().join(source).is_file()
        });
        assert!(
            mounted,
            "{name}: {config} is not mounted from a file in deploy/"
        );

        let check = strings(&service["healthcheck"]["test"]).join(" ");
        let (port, path) = if sub == SIMULATOR {
            (simulator_port(), SIMULATOR_HEALTH_PATH)
        } else {
            (health_port(), ready)
        };
        assert!(
            check.contains(&format!("/dev/tcp/127.0.0.1/{port}"))
                && check.contains(&format!("GET {path} ")),
            "{name}: the health check does not ask {path} on port {port}: {check}"
        );
        assert!(service["build"]["dockerfile"].as_str() == Some("deploy/Dockerfile"));
    }
    assert_eq!(
        ran,
        SERVICES.iter().map(|s| s.to_string()).collect(),
        "compose should run each service once"
    );

    // Every bind mount's source exists.
    for (name, service) in compose["services"].as_mapping().unwrap() {
        for volume in strings(&service["volumes"]) {
            let source = volume.split(':').next().unwrap();
            if source.starts_with("./") || source.starts_with("../") {
                assert!(
                    deploy().join(source).exists(),
                    "{name:?} mounts {source}, which does not exist"
                );
            }
        }
    }

    // Three KRaft nodes, each broker and controller, all voters, one cluster.
    let env =
        |n: usize| env_map(&compose["services"][format!("kafka-{n}").as_str()]["environment"]);
    let mut ids = BTreeSet::new();
    for n in 1..=3 {
        let env = env(n);
        assert_eq!(env["KAFKA_PROCESS_ROLES"], "broker,controller");
        assert_eq!(
            env["KAFKA_CONTROLLER_QUORUM_VOTERS"],
            "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
        );
        assert_eq!(
            env["CLUSTER_ID"],
            env_map(&compose["x-kafka-env"])["CLUSTER_ID"]
        );
        assert!(env["KAFKA_ADVERTISED_LISTENERS"].contains(&format!("kafka-{n}:19092")));
        ids.insert(env["KAFKA_NODE_ID"].clone());
    }
    assert_eq!(ids.len(), 3);
    let bootstrap = &env_map(&compose["x-lienthong-env"])["LIENTHONG__KAFKA__BOOTSTRAP_SERVERS"];
    assert_eq!(bootstrap, "kafka-1:19092,kafka-2:19092,kafka-3:19092");
}

/// `lienthong config show` with the deploy config and `env`: the config loads and validates.
fn assert_config_loads(env: &BTreeMap<String, String>, context: &str) {
    let config = deploy().join("config/lienthong.toml");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let out = lienthong(
        &["config", "show", "--config", config.to_str().unwrap()],
        &env,
    );
    let (stdout, stderr) = text(&out);
    assert!(
        out.status.success(),
        "{context}: deploy/config/lienthong.toml does not load:\n{stderr}"
    );
    for (key, value) in env {
        if key.ends_with("SUBJECT_KEY") || key.ends_with("CLIENT_SECRET") {
            assert!(!stdout.contains(value), "{context}: {key} printed");
        }
    }
}

#[test]
fn the_deploy_config_loads_with_each_containers_environment() {
    let compose = compose();
    for (name, service) in lienthong_services(&compose) {
        if name == SIMULATOR {
            continue;
        }
        assert_config_loads(
            &env_map(&service["environment"]),
            &format!("compose {name}"),
        );
    }
    let objects = k8s_objects();
    let mut base = env_map(&objects[&("ConfigMap".into(), "lienthong-env".into())]["data"]);
    base.extend(env_map(
        &objects[&("Secret".into(), "lienthong-secrets".into())]["stringData"],
    ));
    for ((kind, name), object) in &objects {
        if kind != "Deployment" || name == SIMULATOR {
            continue;
        }
        let mut env = base.clone();
        for var in object["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_sequence()
            .unwrap()
        {
            env.insert(
                str_of(&var["name"], "env name").to_string(),
                str_of(&var["value"], "env value").to_string(),
            );
        }
        assert_config_loads(&env, &format!("k8s {name}"));
    }
}

#[tokio::test]
async fn the_simulator_config_serves_its_health_path() {
    let dir = tempfile::tempdir().unwrap();
    let config = deploy().join("config/platform-sim.toml");
    let database = dir.path().join("sim.sqlite");
    let service = Service::start(
        &[
            "platform-sim",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--database",
            database.to_str().unwrap(),
        ],
        &dir.path().join("sim.log"),
    );
    service.wait_for_log("listening on ", Duration::from_secs(60));
    let log = service.log();
    let addr = log
        .lines()
        .find_map(|l| l.strip_prefix("listening on "))
        .unwrap()
        .trim();
    let response = reqwest::get(format!("http://{addr}{SIMULATOR_HEALTH_PATH}"))
        .await
        .unwrap();
    assert!(response.status().is_success(), "{response:?}");
}

#[test]
fn kubernetes_manifests_are_consistent_with_the_code() {
    let commands = subcommands();
    let (live, ready) = runtime_health_paths();
    let objects = k8s_objects();
    let get = |kind: &str, name: &str| -> &Yaml {
        objects
            .get(&(kind.to_string(), name.to_string()))
            .unwrap_or_else(|| panic!("no {kind}/{name} in deploy/k8s"))
    };
    let partitions = deploy_config()["kafka"]["topics"]["default"]["partitions"]
        .as_integer()
        .unwrap();

    // kustomization.yaml lists every manifest file.
    let kustomization = yaml(&deploy().join("k8s/kustomization.yaml"));
    let listed: BTreeSet<String> = strings(&kustomization["resources"]).into_iter().collect();
    let mut files = Vec::new();
    files_under(&deploy().join("k8s"), &mut files);
    let present: BTreeSet<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_str().unwrap().to_string())
        .filter(|f| f != "kustomization.yaml")
        .collect();
    assert_eq!(listed, present, "kustomization.yaml resources");

    // The ConfigMap carries the deploy config files verbatim.
    let config = get("ConfigMap", "lienthong-config");
    for file in ["lienthong.toml", "platform-sim.toml"] {
        assert_eq!(
            config["data"][file].as_str().map(str::trim_end),
            Some(read(&deploy().join("config").join(file)).trim_end()),
            "deploy/k8s/configmap.yaml {file} differs from deploy/config/{file}"
        );
    }
    for key in env_map(&get("Secret", "lienthong-secrets")["stringData"]).keys() {
        assert!(key.starts_with("LIENTHONG__"), "secret key {key}");
    }

    let mut deployed = BTreeSet::new();
    for ((kind, name), object) in &objects {
        if kind != "Deployment" {
            continue;
        }
        let spec = &object["spec"];
        let pod = &spec["template"]["spec"];
        let labels = &spec["template"]["metadata"]["labels"];
        assert_eq!(
            &spec["selector"]["matchLabels"]["app.kubernetes.io/name"],
            &labels["app.kubernetes.io/name"]
        );
        assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
        let containers = pod["containers"].as_sequence().unwrap();
        assert_eq!(containers.len(), 1, "{name}");
        let container = &containers[0];
        let args = strings(&container["args"]);
        let sub = &args[0];
        assert!(
            commands.contains(sub),
            "{name} runs `lienthong {sub}`, not a subcommand"
        );
        deployed.insert(sub.clone());
        assert_eq!(
            container["securityContext"]["readOnlyRootFilesystem"].as_bool(),
            Some(true),
            "{name}"
        );
        assert!(
            container["resources"]["requests"]["memory"].is_string(),
            "{name}"
        );
        assert!(
            container["resources"]["limits"]["memory"].is_string(),
            "{name}"
        );

        // --config is a key of the ConfigMap mounted there.
        let at = args.iter().position(|a| a == "--config").unwrap();
        let (dir, file) = args[at + 1].rsplit_once('/').unwrap();
        let mount = container["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|m| m["mountPath"].as_str() == Some(dir))
            .unwrap_or_else(|| panic!("{name}: nothing mounted at {dir}"));
        let volume = pod["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap();
        let map = str_of(&volume["configMap"]["name"], "configMap name");
        assert!(
            get("ConfigMap", map)["data"][file].is_string(),
            "{name}: {map} has no {file}"
        );
        for volume in pod["volumes"].as_sequence().unwrap() {
            if let Some(map) = volume["configMap"]["name"].as_str() {
                get("ConfigMap", map);
            }
        }
        for source in container["envFrom"].as_sequence().into_iter().flatten() {
            if let Some(map) = source["configMapRef"]["name"].as_str() {
                get("ConfigMap", map);
            }
            if let Some(secret) = source["secretRef"]["name"].as_str() {
                get("Secret", secret);
            }
        }

        // Probes on the right path and port.
        let ports: BTreeMap<String, u64> = container["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    str_of(&p["name"], "port name").to_string(),
                    p["containerPort"].as_u64().unwrap(),
                )
            })
            .collect();
        let probe = |which: &str| {
            let get = &container[which]["httpGet"];
            let port = match &get["port"] {
                Yaml::String(named) => ports[named],
                number => number.as_u64().unwrap(),
            };
            (str_of(&get["path"], "probe path").to_string(), port)
        };
        if sub == SIMULATOR {
            let port = u64::from(simulator_port());
            assert_eq!(probe("livenessProbe"), (SIMULATOR_HEALTH_PATH.into(), port));
            assert_eq!(
                probe("readinessProbe"),
                (SIMULATOR_HEALTH_PATH.into(), port)
            );
        } else {
            let port = u64::from(health_port());
            assert_eq!(probe("livenessProbe"), (live.into(), port), "{name}");
            assert_eq!(probe("readinessProbe"), (ready.into(), port), "{name}");
            assert_eq!(probe("startupProbe"), (live.into(), port), "{name}");
        }

        let replicas = spec["replicas"].as_u64().unwrap();
        if sub.starts_with("source-") {
            // One replication slot / one binlog reader: never two at once, not even in a rollout.
            assert_eq!(replicas, 1, "{name}");
            assert_eq!(
                spec["strategy"]["type"].as_str(),
                Some("Recreate"),
                "{name}"
            );
        }
    }
    assert_eq!(
        deployed,
        SERVICES.iter().map(|s| s.to_string()).collect(),
        "one Deployment per service"
    );

    // Services select Deployments and target ports they declare.
    for ((kind, name), object) in &objects {
        if kind != "Service" {
            continue;
        }
        let selector = object["spec"]["selector"].as_mapping().unwrap();
        let selected: Vec<&Yaml> = objects
            .iter()
            .filter(|((k, _), _)| k == "Deployment")
            .map(|(_, d)| d)
            .filter(|d| {
                let labels = &d["spec"]["template"]["metadata"]["labels"];
                selector.iter().all(|(k, v)| {
                    let key = str_of(k, "label");
                    // Added to every pod template by kustomization.yaml.
                    (key == "app.kubernetes.io/part-of" && v.as_str() == Some("lienthong"))
                        || &labels[key] == v
                })
            })
            .collect();
        assert!(!selected.is_empty(), "Service {name} selects no Deployment");
        for port in object["spec"]["ports"].as_sequence().unwrap() {
            let target = str_of(&port["targetPort"], "targetPort");
            for deployment in &selected {
                let declared = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"].as_str() == Some(target));
                assert!(
                    declared,
                    "Service {name} targets port {target}, not declared"
                );
            }
        }
    }

    // Budgets and autoscalers point at Deployments that can have them.
    for ((kind, name), object) in &objects {
        match kind.as_str() {
            "PodDisruptionBudget" => {
                let target = str_of(
                    &object["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
                    "selector",
                );
                let replicas = get("Deployment", target)["spec"]["replicas"]
                    .as_u64()
                    .unwrap();
                assert!(
                    replicas > 1,
                    "PDB {name} on a single-replica Deployment blocks drains"
                );
            }
            "HorizontalPodAutoscaler" => {
                let target = str_of(&object["spec"]["scaleTargetRef"]["name"], "target");
                get("Deployment", target);
                let max = object["spec"]["maxReplicas"].as_i64().unwrap();
                assert!(
                    max <= partitions,
                    "HPA {name} goes to {max} replicas, beyond the {partitions} partitions"
                );
            }
            _ => {}
        }
    }
}

#[test]
fn the_dockerfile_builds_the_binary_from_paths_that_exist() {
    let dockerfile = read(&deploy().join("Dockerfile"));
    let ignore = read(&deploy().join("Dockerfile.dockerignore"));
    let reincluded: BTreeSet<&str> = ignore
        .lines()
        .filter_map(|l| l.trim().strip_prefix('!'))
        .collect();
    // Instructions with their continuation lines joined.
    let joined = dockerfile.replace("\\\n", " ");
    let instructions: Vec<&str> = joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let mut copies = 0;
    for line in &instructions {
        let Some(rest) = line.strip_prefix("COPY ") else {
            continue;
        };
        if rest.contains("--from=") {
            continue;
        }
        let parts: Vec<&str> = rest
            .split_whitespace()
            .filter(|p| !p.starts_with("--"))
            .collect();
        for source in &parts[..parts.len() - 1] {
            assert!(root().join(source).exists(), "COPY {source}: no such path");
            assert!(
                reincluded.contains(source),
                "COPY {source}: excluded by deploy/Dockerfile.dockerignore"
            );
            copies += 1;
        }
    }
    assert!(copies >= 6, "{copies} COPY sources");
    assert!(joined.contains("cargo build --release --locked -p lienthong --bin lienthong"));
    assert!(read(&root().join("crates/lienthong/Cargo.toml")).contains("name = \"lienthong\""));
    assert!(instructions.contains(&"ENTRYPOINT [\"lienthong\"]"));
    let user = instructions
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .unwrap();
    assert!(
        !user.starts_with('0') && !user.starts_with("root"),
        "USER {user}"
    );
    let expose = instructions
        .iter()
        .find_map(|l| l.strip_prefix("EXPOSE "))
        .unwrap();
    assert!(
        expose
            .split_whitespace()
            .any(|p| p == health_port().to_string())
    );
    // The config's relative paths (schemas/mappings, schemas/codelists) resolve in WORKDIR.
    assert!(instructions.contains(&"COPY schemas/ /app/schemas/"));
    assert!(instructions.contains(&"WORKDIR /app"));
    for path in ["schemas/mappings", "schemas/codelists"] {
        assert!(root().join(path).is_dir(), "{path}");
    }
}

/// Metric names registered through the runtime's `Metrics::register`/`register_labeled`
/// anywhere in the code (without the `lienthong_` prefix).
fn registered_metrics() -> BTreeSet<String> {
    let mut files = Vec::new();
    files_under(&root().join("crates"), &mut files);
    let mut names = BTreeSet::new();
    for file in files {
        if file.extension().and_then(|e| e.to_str()) != Some("rs")
            || file.components().any(|c| c.as_os_str() == "target")
        {
            continue;
        }
        let code = read(&file);
        for call in [".register(", ".register_labeled("] {
            for (at, _) in code.match_indices(call) {
                let after = code[at + call.len()..].trim_start();
                if let Some(quoted) = after.strip_prefix('"')
                    && let Some(end) = quoted.find('"')
                {
                    names.insert(quoted[..end].to_string());
                }
            }
        }
    }
    names
}

#[test]
fn the_dashboard_queries_only_metrics_the_code_registers() {
    let registered = registered_metrics();
    assert!(
        registered.contains("kafka_records_produced"),
        "{registered:?}"
    );
    let dashboard: Json =
        serde_json::from_str(&read(&deploy().join("grafana/lienthong.json"))).unwrap();
    let mut used = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "duplicate panel id"
        );
        if panel["type"] == "row" {
            continue;
        }
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "panel {} has no query", panel["title"]);
        for target in targets {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(at) = rest.find("lienthong_") {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[at + name.len()..];
                let base = name.strip_prefix("lienthong_").unwrap();
                let base = ["_total", "_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| base.strip_suffix(suffix))
                    .unwrap_or(base);
                assert!(
                    registered.contains(base),
                    "panel {}: {name} is not a metric the code registers",
                    panel["title"]
                );
                used.insert(base.to_string());
            }
        }
    }
    // Throughput, lag, errors, dead letters, retries, match outcomes, quality flags, deliveries.
    for needed in [
        "kafka_records_consumed",
        "store_consumer_lag",
        "records_dead_lettered",
        "retries",
        "resolve_resolutions",
        "translate_quality_flags",
        "sink_records",
    ] {
        assert!(
            used.contains(needed),
            "the dashboard does not show {needed}"
        );
    }
}

#[test]
fn the_collector_scrapes_every_runtime_service() {
    let collector = yaml(&deploy().join("otel/collector.yaml"));
    for (pipeline, spec) in collector["service"]["pipelines"].as_mapping().unwrap() {
        for part in ["receivers", "processors", "exporters"] {
            for name in strings(&spec[part]) {
                assert!(
                    !collector[part][name.as_str()].is_null(),
                    "pipeline {pipeline:?} uses undefined {part} {name}"
                );
            }
        }
    }
    let targets: BTreeSet<String> =
        strings(
            &collector["receivers"]["prometheus"]["config"]["scrape_configs"][0]["static_configs"]
                [0]["targets"],
        )
        .into_iter()
        .collect();
    let compose = compose();
    let expected: BTreeSet<String> = lienthong_services(&compose)
        .keys()
        .filter(|name| *name != SIMULATOR)
        .map(|name| format!("{name}:{}", health_port()))
        .collect();
    assert_eq!(targets, expected);
    let mounts = strings(&compose["services"]["otel-collector"]["volumes"]);
    assert!(
        mounts
            .iter()
            .any(|m| m.starts_with("./otel/collector.yaml:"))
    );
}

/// Runs a validator when it is installed; says so when it is not.
fn run_tool(program: &str, args: &[&str]) -> Option<std::process::Output> {
    match Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
    {
        Ok(out) => Some(out),
        Err(e) => {
            eprintln!("SKIPPED: {program} is not installed here ({e})");
            None
        }
    }
}

#[test]
fn schema_validators_accept_the_files_when_installed() {
    // The compose file against the Compose Specification schema (check-jsonschema ships it).
    if let Some(out) = run_tool(
        "check-jsonschema",
        &[
            "--builtin-schema",
            "vendor.compose-spec",
            "deploy/compose.yaml",
        ],
    ) {
        assert!(out.status.success(), "compose.yaml: {:?}", text(&out));
    }
    // `docker compose config` needs the compose plugin (no engine); absent on most CI machines.
    match Command::new("docker").args(["compose", "version"]).output() {
        Ok(out) if out.status.success() => {
            let out = run_tool(
                "docker",
                &["compose", "-f", "deploy/compose.yaml", "config", "-q"],
            )
            .unwrap();
            assert!(
                out.status.success(),
                "docker compose config: {:?}",
                text(&out)
            );
        }
        _ => eprintln!("SKIPPED: the docker compose plugin is not installed here"),
    }
    // The Kubernetes manifests as kustomize renders them, against the API schemas.
    let Some(rendered) = run_tool("kubectl", &["kustomize", "deploy/k8s"]) else {
        return;
    };
    assert!(
        rendered.status.success(),
        "kubectl kustomize: {:?}",
        text(&rendered)
    );
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("rendered.yaml");
    std::fs::write(&manifest, &rendered.stdout).unwrap();
    let documents = yaml_documents(&manifest);
    assert!(
        documents.len() >= 20,
        "{} rendered objects",
        documents.len()
    );
    for doc in &documents {
        if doc["kind"].as_str() != Some("Namespace") {
            assert_eq!(doc["metadata"]["namespace"].as_str(), Some("lienthong"));
        }
    }
    if let Some(out) = run_tool(
        "kubernetes-validate",
        &[
            "--strict",
            "--quiet",
            "--kubernetes-version",
            "1.32",
            manifest.to_str().unwrap(),
        ],
    ) {
        assert!(
            out.status.success(),
            "kubernetes-validate: {:?}",
            text(&out)
        );
    }
}
