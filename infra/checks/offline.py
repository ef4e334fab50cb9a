"""Runs the Pulumi program in-process under `pulumi.runtime.set_mocks`, recording every resource.

There is no Pulumi CLI here (docs/REFERENCE.md), so tests and `python -m infra.plan` both build the
program this way. The mocks answer like AWS would at the level the program needs: every resource
gets an id, an ARN and the few computed outputs that other resources read (URLs, DNS names).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.settings import reset_options
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

ACCOUNT_ID = "123456789012"
#: The offline Region's AZs, and the interface endpoint services offered in fewer of them (as
#: in real Regions, where a service can miss an AZ): the network must choose around it.
OFFLINE_AZ_SUFFIXES = ("a", "b", "c")
ENDPOINT_SERVICE_AZ_SUFFIXES = {"bedrock-runtime": ("b", "c")}


@dataclass(frozen=True)
class RecordedResource:
    """One resource as the engine would see it: engine (camelCase) input names."""

    type: str
    name: str
    urn: str
    parent_urn: str
    custom: bool
    inputs: dict[str, Any]
    #: What the mocks answered: how other resources' inputs refer to this one.
    id: str = ""
    arn: str = ""
    #: The name AWS would give it (the `name` input, or the mocks' stand-in for an auto-name).
    physical_name: str = ""
    #: URNs of the resources it waits for (`depends_on`, and those its inputs come from).
    dependencies: tuple[str, ...] = ()
    #: `retain_on_delete`: `pulumi destroy` forgets it and leaves it in the account.
    retain_on_delete: bool = False

    def get(self, *path: str, default: Any = None) -> Any:
        """A nested input, e.g. `get("viewerCertificate", "minimumProtocolVersion")`."""
        value: Any = self.inputs
        for key in path:
            if not isinstance(value, Mapping) or key not in value:
                return default
            value = value[key]
        return value


@dataclass
class ResourceGraph:
    resources: list[RecordedResource] = field(default_factory=list)

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [resource for resource in self.resources if resource.type == type_token]

    def named(self, name: str) -> RecordedResource:
        matches = [resource for resource in self.resources if resource.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources are named {name!r}")
        return matches[0]

    def by_urn(self, urn: str) -> RecordedResource | None:
        return next((resource for resource in self.resources if resource.urn == urn), None)

    def children(self, urn: str) -> list[RecordedResource]:
        return [resource for resource in self.resources if resource.parent_urn == urn]

    def ancestors(self, resource: RecordedResource) -> list[RecordedResource]:
        chain = []
        parent = self.by_urn(resource.parent_urn)
        while parent is not None:
            chain.append(parent)
            parent = self.by_urn(parent.parent_urn)
        return chain


@dataclass
class OfflineRun:
    graph: ResourceGraph
    outputs: dict[str, Any]


def _unwrap_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(pulumi_mocks.rpc._special_sig_key) == pulumi_mocks.rpc._special_secret_sig:
            return _unwrap_secrets(value.get("value"))
        return {key: _unwrap_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(item) for item in value]
    return value


class _AwsMocks(pulumi.runtime.Mocks):
    """Answers resource registrations and data-source calls with plausible AWS values."""

    def __init__(self, region: str):
        self.region = region

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        resource_id = f"{args.name}-id"
        if args.typ == "aws:cognito/userPool:UserPool":
            resource_id = f"{self.region}_Offline{abs(hash(args.name)) % 10**6:06d}"  # Cognito's id shape
        if args.typ.startswith("awsx:"):
            # awsx components arrive as one resource; echoing their inputs back as outputs breaks
            # their typed outputs (docs/REFERENCE.md), so return only what dependants read.
            return resource_id, _awsx_outputs(args, self.region)
        if args.typ.startswith("pulumi-python:dynamic"):
            return resource_id, {**args.inputs, "buildId": f"{args.name}:build-1"}
        state = {**args.inputs, "name": args.inputs.get("name", args.name)}
        state.update(_computed_outputs(args, self.region))
        state["arn"] = mock_arn(args.typ, str(state.get("bucket") or state["name"]), self.region)
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        return self._invoked(args), []  # no check failures (Pulumi iterates them: [] not None)

    def _invoked(self, args: pulumi.runtime.MockCallArgs) -> dict:
        if args.token == "aws:ec2/getManagedPrefixList:getManagedPrefixList":
            return {"id": "pl-3b927c52", "name": args.args.get("name"), "entries": []}
        if args.token == "aws:secretsmanager/getRandomPassword:getRandomPassword":
            return {"randomPassword": "offline-random-password-0123456789", "id": "random"}
        if args.token == "aws:secretsmanager/getSecretVersion:getSecretVersion":
            # A secret the stack reads but does not make (the SSO provider's client secret).
            secret_id = str(args.args.get("secretId"))
            return {
                "id": secret_id,
                "arn": secret_id,
                "secretId": secret_id,
                "secretString": "offline-secret-value",
                "versionId": "offline",
                "versionStages": ["AWSCURRENT"],
            }
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:root", "userId": "offline"}
        if args.token == "aws:ec2/getAmi:getAmi":
            return {"id": "ami-0offline0al2023arm", "architecture": "arm64", "name": "al2023-ami-offline"}
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": [f"{self.region}{s}" for s in OFFLINE_AZ_SUFFIXES], "zoneIds": []}
        if args.token == "aws:ec2/getVpcEndpointService:getVpcEndpointService":
            service = str(args.args.get("serviceName", "")).split(".", 3)[-1]
            suffixes = ENDPOINT_SERVICE_AZ_SUFFIXES.get(service, OFFLINE_AZ_SUFFIXES)
            return {
                "serviceName": args.args.get("serviceName"),
                "availabilityZones": [f"{self.region}{s}" for s in suffixes],
                "id": service,
            }
        if args.token == "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings":
            zones = [f"{self.region}{s}" for s in OFFLINE_AZ_SUFFIXES]
            return {
                "locations": zones,
                "locationTypes": ["availability-zone"] * len(zones),
                "instanceTypes": [],
                "id": "x",
            }
        return {}


#: ARN shapes per service/type, as AWS writes them: policies and IAM tests match on them.
_ARN_SHAPES = {
    "aws:dynamodb/table:Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "aws:lambda/function:Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "aws:lambda/layerVersion:LayerVersion": "arn:aws:lambda:{region}:{account}:layer:{name}:1",
    "aws:s3/bucket:Bucket": "arn:aws:s3:::{name}",
    "aws:s3/bucketV2:BucketV2": "arn:aws:s3:::{name}",
    "aws:sqs/queue:Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "aws:cloudwatch/logGroup:LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}",
    "aws:iam/role:Role": "arn:aws:iam::{account}:role/{name}",
    "aws:iam/policy:Policy": "arn:aws:iam::{account}:policy/{name}",
    "aws:sagemaker/endpoint:Endpoint": "arn:aws:sagemaker:{region}:{account}:endpoint/{name}",
    "aws:sagemaker/model:Model": "arn:aws:sagemaker:{region}:{account}:model/{name}",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": (
        "arn:aws:sagemaker:{region}:{account}:endpoint-config/{name}"
    ),
    "aws:secretsmanager/secret:Secret": "arn:aws:secretsmanager:{region}:{account}:secret:{name}-AbCdEf",
    "aws:ecr/repository:Repository": "arn:aws:ecr:{region}:{account}:repository/{name}",
    "aws:kms/key:Key": "arn:aws:kms:{region}:{account}:key/0000aaaa-bb11-cc22-dd33-{name_hash}",
    "aws:codebuild/project:Project": "arn:aws:codebuild:{region}:{account}:project/{name}",
    "aws:ecs/cluster:Cluster": "arn:aws:ecs:{region}:{account}:cluster/{name}",
    "aws:ecs/service:Service": "arn:aws:ecs:{region}:{account}:service/{name}",
    "aws:ecs/taskDefinition:TaskDefinition": "arn:aws:ecs:{region}:{account}:task-definition/{name}:1",
    "aws:lb/loadBalancer:LoadBalancer": (
        "arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/app/{name}/0123456789abcdef"
    ),
    "aws:lb/targetGroup:TargetGroup": (
        "arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/{name}/0123456789abcdef"
    ),
    "aws:lb/listener:Listener": (
        "arn:aws:elasticloadbalancing:{region}:{account}:listener/app/{name}/0123456789abcdef/0123456789abcdef"
    ),
    "aws:cognito/userPool:UserPool": "arn:aws:cognito-idp:{region}:{account}:userpool/{name}",
    "aws:wafv2/webAcl:WebAcl": "arn:aws:wafv2:us-east-1:{account}:global/webacl/{name}/0000aaaa-bb11-cc22-dd33-{name_hash}",
    "aws:cloudfront/distribution:Distribution": "arn:aws:cloudfront::{account}:distribution/{name}",
    "aws:rds/instance:Instance": "arn:aws:rds:{region}:{account}:db:{name}",
    "aws:rds/cluster:Cluster": "arn:aws:rds:{region}:{account}:cluster:{name}",
    "aws:rds/clusterInstance:ClusterInstance": "arn:aws:rds:{region}:{account}:db:{name}",
    "aws:ec2/instance:Instance": "arn:aws:ec2:{region}:{account}:instance/i-{name_hash}",
}


def mock_arn(type_token: str, name: str, region: str) -> str:
    """The ARN AWS would give a resource of this type and name."""
    service = type_token.split(":")[1].split("/")[0]
    shape = _ARN_SHAPES.get(type_token, "arn:aws:{service}:{region}:{account}:{name}")
    name_hash = hashlib.sha256(name.encode()).hexdigest()[:12]
    return shape.format(region=region, account=ACCOUNT_ID, name=name, service=service, name_hash=name_hash)


def _awsx_outputs(args: pulumi.runtime.MockResourceArgs, region: str) -> dict[str, Any]:
    if args.typ == "awsx:ecr:Image":
        repository = args.inputs.get("repositoryUrl", f"{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/offline")
        return {"imageUri": f"{repository}@sha256:{'0' * 64}"}
    return {}


def _computed_outputs(args: pulumi.runtime.MockResourceArgs, region: str) -> dict[str, Any]:
    """Outputs that AWS computes and that other resources in this program read."""
    name = args.name
    by_type: dict[str, dict[str, Any]] = {
        "aws:lambda/functionUrl:FunctionUrl": {"functionUrl": f"https://{name}.lambda-url.{region}.on.aws/"},
        # A published version (CloudFront takes only a numbered one for Lambda@Edge).
        "aws:lambda/function:Function": {
            "qualifiedArn": f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{args.inputs.get('name', name)}:1",
            "version": "1",
        },
        "aws:lb/loadBalancer:LoadBalancer": {"dnsName": f"{name}.{region}.elb.amazonaws.com"},
        "aws:cloudfront/distribution:Distribution": {"domainName": f"{name}.cloudfront.net"},
        "aws:cognito/userPoolClient:UserPoolClient": {"clientSecret": "offline-client-secret"},
        "aws:rds/instance:Instance": {
            "address": f"{name}.offline.{region}.rds.amazonaws.com",
            "masterUserSecrets": [
                {
                    "secretArn": f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:rds!{name}",
                    "kmsKeyId": "",
                    "secretStatus": "active",
                }
            ],
        },
        "aws:rds/cluster:Cluster": {
            "endpoint": f"{name}.cluster-offline.{region}.rds.amazonaws.com",
            "masterUserSecrets": [
                {
                    "secretArn": f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:rds!cluster-{name}",
                    "kmsKeyId": "",
                    "secretStatus": "active",
                }
            ],
        },
        "aws:ec2/instance:Instance": {"primaryNetworkInterfaceId": f"eni-{name}"},
        "aws:ecr/repository:Repository": {
            "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/{name}"
        },
        "aws:s3/bucket:Bucket": {"bucket": args.inputs.get("bucket", f"{name}-bucket")},
        "aws:sqs/queue:Queue": {"url": f"https://sqs.{region}.amazonaws.com/{ACCOUNT_ID}/{name}"},
        "random:index/randomPassword:RandomPassword": {
            "result": hashlib.sha256(name.encode()).hexdigest()[: int(args.inputs.get("length", 32))]
        },
    }
    return by_type.get(args.typ, {})


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, also keeping every registration's inputs and parent (the tree)."""

    def __init__(self, mocks: pulumi.runtime.Mocks, graph: ResourceGraph):
        super().__init__(mocks)
        self.graph = graph

    def RegisterResource(self, request):  # noqa: N802 (the engine's gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            registration = self.resources.get(response.urn)
            state = registration.state if registration is not None else {}
            inputs = _unwrap_secrets(pulumi_mocks.rpc.deserialize_properties(request.object))
            self.graph.resources.append(
                RecordedResource(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent_urn=request.parent,
                    custom=request.custom,
                    inputs=inputs,
                    id=response.id,
                    arn=str(state.get("arn", "")),
                    physical_name=str(state.get("name", "")),
                    dependencies=tuple(request.dependencies),
                    retain_on_delete=bool(getattr(request, "retainOnDelete", False)),
                )
            )
        return response


def _give_this_thread_an_event_loop() -> None:
    """Pulumi's mocks make futures on the thread's current event loop; an `asyncio.run()` earlier
    in the process (a test, a library) leaves the main thread with none, so set a new one then."""
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


def run_offline(
    program: Callable[[], Mapping[str, Any] | None],
    *,
    project: str,
    stack: str,
    config: Mapping[str, str],
    region: str,
    graph: ResourceGraph | None = None,
) -> OfflineRun:
    """Build `program` under mocks with `config`; returns every resource and the resolved outputs.

    Raises what the program raises; pass `graph` to see what was registered before it did."""
    graph = graph if graph is not None else ResourceGraph()
    mocks = _AwsMocks(region)
    _give_this_thread_an_event_loop()
    reset_options(project=project, stack=stack)  # a fresh root stack for every run
    pulumi.runtime.set_mocks(
        mocks, project=project, stack=stack, preview=False, monitor=_RecordingMonitor(mocks, graph)
    )
    pulumi.runtime.set_all_config(dict(config))
    outputs: dict[str, Any] = {}

    def run() -> None:
        exported = program()
        resolved = _sync_await(pulumi.Output.all(**dict(exported)).future()) if exported else {}
        outputs.update(resolved or {})

    _sync_await(run_pulumi_func(run))
    return OfflineRun(graph=graph, outputs=outputs)
