"""Render deploy/k8s/suite.yaml: the whole suite for Kubernetes, from one list of services.

    python deploy/k8s/generate.py            rewrite suite.yaml
    python deploy/k8s/generate.py --check    exit 1 when suite.yaml is not what this renders

Kafka and MongoDB run from the official images as StatefulSets (one node each; a production cluster
would use Strimzi or a managed Kafka and a MongoDB replica set). Every service is a Deployment with
readiness (/readyz: Kafka and the store reachable) and liveness (/healthz) probes, a Service, and a
HorizontalPodAutoscaler; consumer services scale up to their topics' partition count (6).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
OUT = HERE / "suite.yaml"
NAMESPACE = "yingde-aftersales"
IMAGE = "registry.example.com/yingde/{service}:0.1.0"  # built from deploy/docker/Dockerfile
# Where customers reach the suite from their phones (the QR codes, the status and activation pages): the
# ingress or load balancer in front of intake and the console. Placeholders to set per installation.
PUBLIC_INTAKE = "https://complaints.yingde.example.com"
PUBLIC_CONSOLE = "https://service.yingde.example.com"

# name, port, min replicas, max replicas (a consumer beyond its partitions would sit idle)
SERVICES = [
    ("intake", 8001, 2, 8),
    ("dispatch", 8002, 1, 6),
    ("warranty", 8003, 1, 6),
    ("parts", 8004, 1, 6),
    ("engineering", 8005, 1, 3),
    ("console", 8006, 1, 4),
    ("operations", 8007, 1, 1),
    ("notifications", 8008, 1, 6),
]


def meta(name: str, **labels: str) -> dict[str, Any]:
    return {"name": name, "namespace": NAMESPACE, "labels": {"app.kubernetes.io/part-of": "yingde-aftersales",
                                                             "app.kubernetes.io/name": name, **labels}}


def notification_env() -> list[dict[str, Any]]:
    """Notifications sends SMS through Alibaba Cloud in production (it refuses the local adapter there);
    the keys, sign name and template codes come from the secret."""
    from_secret = {"ALIYUN_SMS_ACCESS_KEY_ID": "aliyun-sms-access-key-id",
                   "ALIYUN_SMS_ACCESS_KEY_SECRET": "aliyun-sms-access-key-secret",
                   "ALIYUN_SMS_SIGN_NAME": "aliyun-sms-sign-name", "ALIYUN_SMS_TEMPLATES": "aliyun-sms-templates"}
    return [{"name": "NOTIFY_SMS_PROVIDER", "value": "aliyun"}] + [
        {"name": env, "valueFrom": {"secretKeyRef": {"name": "yingde-credentials", "key": key}}}
        for env, key in from_secret.items()]


def service_objects(name: str, port: int, min_replicas: int, max_replicas: int) -> list[dict[str, Any]]:
    selector = {"app.kubernetes.io/name": name}
    probe = {"httpGet": {"path": "/readyz", "port": port}, "periodSeconds": 10, "failureThreshold": 3}
    container = {
        "name": name,
        "image": IMAGE.format(service=name),
        "ports": [{"name": "http", "containerPort": port}],
        "envFrom": [{"configMapRef": {"name": "yingde-config"}}],
        "env": [{"name": "HTTP_PORT", "value": str(port)}, {"name": "HTTP_HOST", "value": "0.0.0.0"}]
        + ([{"name": "CONSOLE_SESSION_SECRET", "valueFrom": {"secretKeyRef": {"name": "yingde-credentials",
                                                                              "key": "console-session-secret"}}}]
           if name == "console" else [])
        + (notification_env() if name == "notifications" else []),
        "readinessProbe": probe,
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": port}, "periodSeconds": 20, "failureThreshold": 3},
        "startupProbe": {"httpGet": {"path": "/healthz", "port": port}, "periodSeconds": 5, "failureThreshold": 24},
        "resources": {"requests": {"cpu": "100m", "memory": "160Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "volumeMounts": [{"name": "credentials", "mountPath": "/run/secrets/yingde", "readOnly": True}],
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "allowPrivilegeEscalation": False},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name),
        "spec": {
            "replicas": min_replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": selector, "annotations": {"prometheus.io/scrape": "true",
                                                                 "prometheus.io/port": str(port),
                                                                 "prometheus.io/path": "/metrics"}},
                "spec": {
                    # A consumer leaving the group hands its partitions over; give it time to commit.
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    "volumes": [{"name": "credentials", "secret": {"secretName": "yingde-credentials"}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(name),
        "spec": {"selector": selector, "ports": [{"name": "http", "port": port, "targetPort": port}]},
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                                                          "target": {"type": "Utilization", "averageUtilization": 70}}}],
        },
    }
    return [deployment, service, hpa]


def stateful(name: str, image: str, port: int, env: list[dict[str, str]], mount: str, probe: dict[str, Any],
             memory: str, args: list[str] | None = None) -> list[dict[str, Any]]:
    selector = {"app.kubernetes.io/name": name}
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(name),
            "spec": {"selector": selector, "clusterIP": "None", "ports": [{"name": "main", "port": port}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta(name),
            "spec": {
                "serviceName": name,
                "replicas": 1,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": selector},
                    "spec": {"containers": [{
                        "name": name, "image": image, "env": env, **({"args": args} if args else {}),
                        "ports": [{"name": "main", "containerPort": port}],
                        "readinessProbe": probe,
                        "resources": {"requests": {"cpu": "250m", "memory": memory}, "limits": {"memory": memory}},
                        "volumeMounts": [{"name": "data", "mountPath": mount}],
                    }]},
                },
                "volumeClaimTemplates": [{
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
                }],
            },
        },
    ]


def render() -> str:
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta("yingde-config"),
            "data": {
                "APP_ENV": "production",
                "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
                "KAFKA_REPLICATION_FACTOR": "1",
                "MONGODB_URL": "mongodb://mongo:27017/?directConnection=true",
                "CREDENTIALS_FILE": "/run/secrets/yingde/credentials.json",
                "INTAKE_PUBLIC_URL": PUBLIC_INTAKE,
                "WARRANTY_ACTIVATION_URL": f"{PUBLIC_CONSOLE}/activation",
                **{f"{n.upper()}_URL": f"http://{n}:{p}" for n, p, _, _ in SERVICES if n not in ("console", "operations")},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta("yingde-credentials"),
            "type": "Opaque",
            # A placeholder on purpose: the services refuse to start in production until real keys are set.
            "stringData": {"credentials.json": '{"hotline": {"api_key": "CHANGE-ME-hotline-key-000"}}',
                           # The console signs its session cookies with this; one value for every replica.
                           "console-session-secret": "CHANGE-ME-console-session-secret",
                           # Alibaba Cloud SMS for notifications: an AccessKey, the approved sign name and
                           # template codes per message kind (JSON).
                           "aliyun-sms-access-key-id": "CHANGE-ME", "aliyun-sms-access-key-secret": "CHANGE-ME",
                           "aliyun-sms-sign-name": "英德售后", "aliyun-sms-templates": "{}"},
        },
    ]
    docs += stateful(
        "kafka", "apache/kafka:4.1.1", 9092,
        [{"name": k, "value": v} for k, v in {
            "KAFKA_NODE_ID": "1", "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
            "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
            "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://kafka:9092",
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
            "KAFKA_LOG_DIRS": "/var/lib/kafka/data",
        }.items()],
        "/var/lib/kafka/data", {"tcpSocket": {"port": 9092}, "periodSeconds": 10}, "1Gi",
    )
    # A one-node replica set (the services' transactions need one), initiated by its readiness probe
    # on the first start; clients connect to the node directly. A transaction a killed pod left open
    # ends after 10 s instead of 60.
    initiate = "try { rs.status() } catch (e) { rs.initiate() } quit(db.hello().isWritablePrimary ? 0 : 1)"
    docs += stateful("mongo", "mongo:7", 27017, [], "/data/db",
                     {"exec": {"command": ["mongosh", "--quiet", "--eval", initiate]}, "periodSeconds": 10}, "1Gi",
                     args=["--replSet", "rs0", "--bind_ip_all", "--setParameter", "transactionLifetimeLimitSeconds=10"])
    for spec in SERVICES:
        docs += service_objects(*spec)
    header = "# Generated by deploy/k8s/generate.py; do not edit by hand. Validated by deploy/k8s/validate.\n"
    return header + yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True, width=120)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        return 0 if OUT.read_text(encoding="utf-8") == text else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
