"""Renders deploy/helm/adoport with a real Helm engine (Helm's Go SDK, embedded by
helm-python-sdk) and checks every manifest: against Kubernetes' own schemas in strict mode
(kubernetes-validate, offline; unknown fields are errors), the ServiceMonitor against the
Prometheus Operator's models (cloudcoil), and against what adoport needs (command lines,
probes, secrets, security, volumes) for each documented mode. Values that must be refused
are refused. Run by deploy/test-chart.sh, which makes the environment.
"""

from __future__ import annotations

import copy
import sys
import traceback
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import yaml
from cloudcoil.models.prometheus_operator.v1 import ServiceMonitor

HERE = Path(__file__).resolve().parent
CHART = HERE / "helm" / "adoport"
CI = CHART / "ci"
# The oldest Kubernetes the chart claims (Chart.yaml kubeVersion) and the newest whose
# schemas kubernetes-validate ships.
KUBE_VERSIONS = ["1.27.0", kubernetes_validate.latest_version()]
SECRET_VARS = {
    "AZURE_DEVOPS_PAT",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "PORT_CLIENT_ID",
    "PORT_CLIENT_SECRET",
    "ADOPORT_WEBHOOK_SECRET",
    "ADOPORT_GIT_TOKEN",
    "ADOPORT_NATS_TOKEN",
    "ADOPORT_NATS_USER",
    "ADOPORT_NATS_PASSWORD",
}
ORG = "https://dev.azure.com/acme"


def values(name: str) -> dict:
    return yaml.safe_load((CI / f"{name}-values.yaml").read_text()) or {}


def render(vals: dict) -> list[dict]:
    """The release's objects, in template order."""
    with helm.Chart.load(str(CHART)) as chart:
        out = chart.render(vals, name="adoport", namespace="catalog", is_install=True)
    objects = []
    for path, text in sorted(out.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                objects.append(doc)
    return objects


def validate(objects: list[dict]) -> None:
    """Every object against its schema; unknown fields are errors."""
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["apiVersion"] == "monitoring.coreos.com/v1":
            model = ServiceMonitor.model_validate(obj)
            back = model.model_dump(by_alias=True, exclude_none=True, mode="json")
            assert _subset(obj, back), f"{where}: fields the ServiceMonitor API does not define: {obj} vs {back}"
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                raise AssertionError(f"{where} (Kubernetes {version}): {e.message} at {list(e.path)}") from None


def _subset(a, b) -> bool:
    """Whether everything in `a` survived the model's round trip into `b`."""
    if isinstance(a, dict):
        return isinstance(b, dict) and all(k in b and _subset(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_subset(x, y) for x, y in zip(a, b))
    return a == b


def one(objects: list[dict], kind: str) -> dict:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}: {[o['kind'] for o in objects]}"
    return found[0]


def kinds(objects: list[dict]) -> list[str]:
    return sorted(o["kind"] for o in objects)


def pod_spec(objects: list[dict]) -> dict:
    for o in objects:
        if o["kind"] == "Deployment":
            return o["spec"]["template"]["spec"]
        if o["kind"] == "CronJob":
            return o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    raise AssertionError("no workload")


def container(objects: list[dict]) -> dict:
    containers = pod_spec(objects)["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(c: dict) -> dict[str, dict]:
    return {e["name"]: e for e in c.get("env", [])}


def check_common(objects: list[dict], secret_vars: set[str]) -> None:
    """What every workload keeps: security, /data, credentials only from the Secret."""
    spec = pod_spec(objects)
    c = container(objects)
    psc = spec["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] != 0, psc
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"}, psc
    csc = c["securityContext"]
    assert csc["readOnlyRootFilesystem"] is True, csc
    assert csc["allowPrivilegeEscalation"] is False, csc
    assert csc["capabilities"] == {"drop": ["ALL"]}, csc
    assert spec["automountServiceAccountToken"] is False
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert mounts.get("/data") == "data" and mounts.get("/tmp") == "tmp", mounts
    assert c["workingDir"] == "/data"
    env = env_of(c)
    assert env["AZURE_DEVOPS_ORG_URL"]["value"] == ORG
    for name, e in env.items():
        if name in SECRET_VARS:
            assert "value" not in e, f"{name} has a literal value"
            ref = e["valueFrom"]["secretKeyRef"]
            assert ref["name"] == "adoport" and ref["key"] == name, ref
    assert {n for n in env if n in SECRET_VARS} == secret_vars, sorted(env)
    assert c["image"] == "ghcr.io/OWNER/adoport:0.1.0", c["image"]


def check_serve(
    objects: list[dict], config: str, target: str = "port", queue: list[str] | None = None
) -> dict:
    deployment = one(objects, "Deployment")
    c = container(objects)
    want = ["serve", "--config", config, "--target", target, "--listen", "0.0.0.0:8080"]
    if queue:
        want += queue
    assert c["args"] == want + ["--log-format", "json"], c["args"]
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}], c["ports"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, c["livenessProbe"]
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}, c["readinessProbe"]
    assert c["resources"]["requests"] and c["resources"]["limits"], c["resources"]
    service = one(objects, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert env_of(c)["ADOPORT_WEBHOOK_USER"]["value"] == "adoport"
    assert "CronJob" not in kinds(objects)
    return deployment


def check_single_replica_volume(objects: list[dict]) -> None:
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pvc = one(objects, "PersistentVolumeClaim")
    data = {v["name"]: v for v in pod_spec(objects)["volumes"]}["data"]
    assert data["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]


# The documented modes ------------------------------------------------------------------


def test_default() -> None:
    objects = render(values("default"))
    validate(objects)
    assert kinds(objects) == ["Deployment", "PersistentVolumeClaim", "Service", "ServiceAccount"], kinds(objects)
    check_serve(objects, "/etc/adoport/config")
    check_common(objects, {"AZURE_DEVOPS_PAT", "PORT_CLIENT_ID", "PORT_CLIENT_SECRET", "ADOPORT_WEBHOOK_SECRET"})
    check_single_replica_volume(objects)
    env = env_of(container(objects))
    assert "optional" not in env["ADOPORT_WEBHOOK_SECRET"]["valueFrom"]["secretKeyRef"]


def test_serve_git() -> None:
    objects = render(values("serve-git"))
    validate(objects)
    check_serve(objects, "git:https://dev.azure.com/acme/platform/_git/port-config@main")
    check_common(
        objects,
        {"AZURE_DEVOPS_PAT", "PORT_CLIENT_ID", "PORT_CLIENT_SECRET", "ADOPORT_WEBHOOK_SECRET", "ADOPORT_GIT_TOKEN"},
    )
    check_single_replica_volume(objects)
    token = env_of(container(objects))["ADOPORT_GIT_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert token.get("optional") is True, token


def test_serve_configmap() -> None:
    vals = values("serve-configmap")
    objects = render(vals)
    validate(objects)
    check_serve(objects, "/config", target="port:us")
    check_common(
        objects,
        {
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "PORT_CLIENT_ID",
            "PORT_CLIENT_SECRET",
            "ADOPORT_WEBHOOK_SECRET",
        },
    )
    cm = one(objects, "ConfigMap")
    assert cm["data"]["mappings__10-repositories.yaml"] == vals["config"]["files"]["mappings/10-repositories.yaml"]
    volume = {v["name"]: v for v in pod_spec(objects)["volumes"]}["config"]["configMap"]
    assert volume["name"] == cm["metadata"]["name"]
    paths = {i["key"]: i["path"] for i in volume["items"]}
    assert paths == {"adoport.yaml": "adoport.yaml", "mappings__10-repositories.yaml": "mappings/10-repositories.yaml"}
    mount = [m for m in container(objects)["volumeMounts"] if m["name"] == "config"][0]
    assert mount == {"name": "config", "mountPath": "/config", "readOnly": True}
    annotations = one(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    # A change of the files rolls the pods.
    changed = copy.deepcopy(vals)
    changed["config"]["files"]["adoport.yaml"] = "datasource: other\n"
    again = one(render(changed), "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["checksum/config"] != again["checksum/config"]
    # An existing ConfigMap: none is made, its items place the keys.
    existing = copy.deepcopy(vals)
    existing["config"] = {
        "source": "configMap",
        "configMap": {"name": "team-mapping", "items": [{"key": "repos", "path": "mappings/repos.yaml"}]},
    }
    objects = render(existing)
    validate(objects)
    assert "ConfigMap" not in kinds(objects)
    volume = {v["name"]: v for v in pod_spec(objects)["volumes"]}["config"]["configMap"]
    assert volume == {"name": "team-mapping", "items": [{"key": "repos", "path": "mappings/repos.yaml"}]}, volume


def test_serve_nats_three_replicas() -> None:
    objects = render(values("serve-nats"))
    validate(objects)
    deployment = check_serve(
        objects, "/etc/adoport/config", queue=["--queue", "nats://nats.nats.svc:4222/catalog", "--lease-ttl", "20s"]
    )
    nats_credentials = {"ADOPORT_NATS_TOKEN", "ADOPORT_NATS_USER", "ADOPORT_NATS_PASSWORD"}
    check_common(
        objects, {"AZURE_DEVOPS_PAT", "PORT_CLIENT_ID", "PORT_CLIENT_SECRET", "ADOPORT_WEBHOOK_SECRET"} | nats_credentials
    )
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate"}
    assert "PersistentVolumeClaim" not in kinds(objects)
    data = {v["name"]: v for v in pod_spec(objects)["volumes"]}["data"]
    assert data == {"name": "data", "emptyDir": {}}, data
    env = env_of(container(objects))
    # Each pod is a replica of its own name, in the lease and the resync records.
    assert env["ADOPORT_REPLICA_ID"] == {
        "name": "ADOPORT_REPLICA_ID",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
    }, env["ADOPORT_REPLICA_ID"]
    for name in nats_credentials:
        assert env[name]["valueFrom"]["secretKeyRef"].get("optional") is True, env[name]
    # One replica on SQLite: no replica id, no NATS credentials.
    single = env_of(container(render(values("default"))))
    assert not {"ADOPORT_REPLICA_ID", *nats_credentials} & set(single), sorted(single)


def test_ingress() -> None:
    objects = render(values("ingress"))
    validate(objects)
    check_serve(objects, "/etc/adoport/config")
    ingress = one(objects, "Ingress")
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"secretName": "adoport-tls", "hosts": ["adoport.example.com"]}]
    (rule,) = spec["rules"]
    assert rule["host"] == "adoport.example.com"
    # The webhook alone is published.
    assert rule["http"]["paths"] == [
        {
            "path": "/webhook",
            "pathType": "Exact",
            "backend": {"service": {"name": "adoport", "port": {"name": "http"}}},
        }
    ], rule


def test_service_monitor() -> None:
    objects = render(values("servicemonitor"))
    validate(objects)
    check_serve(objects, "/etc/adoport/config")
    monitor = one(objects, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["selector"]["matchLabels"] == one(objects, "Service")["spec"]["selector"]
    assert monitor["spec"]["endpoints"] == [
        {
            "port": "http",
            "path": "/metrics",
            "interval": "30s",
            "scrapeTimeout": "10s",
            # /metrics takes the webhook's basic auth (the probes do not).
            "basicAuth": {
                "username": {"name": "adoport-metrics-user", "key": "username"},
                "password": {"name": "adoport", "key": "ADOPORT_WEBHOOK_SECRET"},
            },
        }
    ], monitor["spec"]["endpoints"]
    user = next(o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == "adoport-metrics-user")
    assert user["stringData"] == {"username": "adoport"}, user


def test_scheduled() -> None:
    objects = render(values("scheduled"))
    validate(objects)
    assert kinds(objects) == ["CronJob", "PersistentVolumeClaim", "ServiceAccount"], kinds(objects)
    cron = one(objects, "CronJob")
    assert cron["spec"]["schedule"] == "17 * * * *"
    assert cron["spec"]["timeZone"] == "Europe/Berlin"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert pod_spec(objects)["restartPolicy"] == "Never"
    c = container(objects)
    assert c["args"] == [
        "apply",
        "--follow",
        "git:https://dev.azure.com/acme/platform/_git/port-config@main",
        "--once",
        "--cache-dir",
        "/tmp/follow",
        "--target",
        "port",
        "--log-format",
        "json",
    ], c["args"]
    assert "ports" not in c and "livenessProbe" not in c
    check_common(objects, {"AZURE_DEVOPS_PAT", "PORT_CLIENT_ID", "PORT_CLIENT_SECRET", "ADOPORT_GIT_TOKEN"})
    # From a ConfigMap instead: `apply --config /config`.
    vals = values("scheduled")
    vals["config"] = {"source": "configMap", "configMap": {"name": "team-mapping"}}
    vals["target"] = "sqlite:/data/catalog.sqlite"
    objects = render(vals)
    validate(objects)
    assert container(objects)["args"][:5] == ["apply", "--config", "/config", "--target", "sqlite:/data/catalog.sqlite"]
    assert "PORT_CLIENT_ID" not in env_of(container(objects))


def test_lint() -> None:
    for name in ["default", "serve-git", "serve-configmap", "serve-nats", "ingress", "servicemonitor", "scheduled"]:
        result = helm.lint(str(CHART), values(name), strict=True, namespace="catalog", kube_version="1.27.0")
        messages = result.get("messages") or []
        errors = [m for m in messages if str(m.get("severity", "")).lower() not in ("info", "1")]
        assert not errors and not result.get("errors"), f"{name}: {result}"


# What must be refused ------------------------------------------------------------------


def refused(vals: dict, why: str) -> None:
    try:
        render(vals)
    except helm.HelmError as e:
        assert why in str(e), f"refused for another reason: {e}"
        return
    raise AssertionError(f"rendered values that must be refused ({why})")


def test_refusals() -> None:
    base = values("default")

    def with_(**changes) -> dict:
        v = copy.deepcopy(base)
        for path, value in changes.items():
            node = v
            *parents, last = path.split("__")
            for p in parents:
                node = node.setdefault(p, {})
            node[last] = value
        return v

    refused({}, "azureDevOps.orgUrl is required")
    refused(with_(replicas=3), "replicas")
    refused(with_(mode="both"), "mode")
    refused(with_(secret__pat="s3cret"), "'pat' not allowed")
    refused(with_(azureDevOps__pat="s3cret"), "'pat' not allowed")
    refused(with_(extraEnv=[{"name": "AZURE_DEVOPS_PAT", "value": "s3cret"}]), "extraEnv")
    refused(with_(config__source="git"), "git")
    refused(with_(config__source="configMap"), "config.files")
    refused(with_(ingress__enabled=True), "host")
    refused(with_(target="sqlite:/data/c.sqlite", replicas=2, nats__url="nats://n:4222"), "sqlite")
    refused(with_(replicas=2, nats__url="nats://me:s3cret@n:4222"), "nats")
    refused(with_(replicas=2, nats__url="nats://n:4222", nats__leaseTtl="soon"), "leaseTtl")
    refused(with_(schedule__cron="every hour"), "cron")
    refused(with_(listenPort=80), "listenPort")


def main() -> int:
    tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and callable(f)]
    passed = failed = 0
    for name, test in tests:
        try:
            test()
        except Exception:  # noqa: BLE001 - every failure is reported, then counted
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
        else:
            passed += 1
            print(f"ok   {name}")
    print(f"chart: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
