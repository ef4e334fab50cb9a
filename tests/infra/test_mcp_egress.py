"""The chat Lambda reaches registered MCP servers through the stack's own egress: from its private
subnets over the NAT (a NAT gateway per AZ in prod, one NAT instance in dev) to the internet
gateway, on HTTPS (443) only, which is what docs/DEPLOY.md tells administrators to register."""

from __future__ import annotations

import pytest

from infra.checks.offline import OfflineRun, RecordedResource, ResourceGraph
from tests.infra.support import one
from tests.infra.test_network import route_table_of

ANYWHERE = "0.0.0.0/0"


def by_id(graph: ResourceGraph, type_token: str, resource_id: str) -> RecordedResource:
    return next(r for r in graph.of_type(type_token) if r.id == resource_id)


def allows_out(group: RecordedResource, port: int) -> bool:
    return any(
        rule["protocol"] == "tcp"
        and rule["fromPort"] <= port <= rule["toPort"]
        and ANYWHERE in rule["cidrBlocks"]
        for rule in group.inputs.get("egress", [])
    )


def reaches_the_internet(graph: ResourceGraph, subnet: RecordedResource, port: int) -> bool:
    """Whether a connection to a public address on `port` leaves `subnet`: its default route goes
    to a NAT gateway in a subnet routed to the internet gateway, or to a NAT instance with a public
    address whose security group lets it out on `port`."""
    igw = one(graph, "aws:ec2/internetGateway:InternetGateway").id
    [default] = [r for r in route_table_of(graph, subnet).inputs["routes"] if r["cidrBlock"] == ANYWHERE]
    if gateway_id := default.get("natGatewayId"):
        gateway = by_id(graph, "aws:ec2/natGateway:NatGateway", gateway_id)
        public = by_id(graph, "aws:ec2/subnet:Subnet", gateway.inputs["subnetId"])
        return any(r.get("gatewayId") == igw for r in route_table_of(graph, public).inputs["routes"])
    instance = next(
        i
        for i in graph.of_type("aws:ec2/instance:Instance")
        if f"eni-{i.name}" == default["networkInterfaceId"]  # the mocks' primary ENI id
    )
    public = by_id(graph, "aws:ec2/subnet:Subnet", instance.inputs["subnetId"])
    groups = [
        by_id(graph, "aws:ec2/securityGroup:SecurityGroup", g) for g in instance.inputs["vpcSecurityGroupIds"]
    ]
    return (
        instance.inputs["associatePublicIpAddress"] is True
        and instance.inputs["sourceDestCheck"] is False
        and any(r.get("gatewayId") == igw for r in route_table_of(graph, public).inputs["routes"])
        and any(allows_out(group, port) for group in groups)
    )


def chat_function_paths(graph: ResourceGraph) -> tuple[list[RecordedResource], list[RecordedResource]]:
    function = one(graph, "aws:lambda/function:Function", "chat-function")
    config = function.inputs["vpcConfig"]
    subnets = [by_id(graph, "aws:ec2/subnet:Subnet", s) for s in config["subnetIds"]]
    groups = [by_id(graph, "aws:ec2/securityGroup:SecurityGroup", g) for g in config["securityGroupIds"]]
    return subnets, groups


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_chat_function_reaches_an_mcp_server_on_the_internet_over_https(stack: str, request):
    graph = request.getfixturevalue(stack).graph
    subnets, groups = chat_function_paths(graph)
    assert subnets, "the function runs in the VPC"
    assert any(allows_out(group, 443) for group in groups)
    assert all(reaches_the_internet(graph, subnet, 443) for subnet in subnets)


@pytest.mark.parametrize("port", [80, 8080, 8443])
def test_plain_http_and_other_ports_do_not_leave_the_function(dev: OfflineRun, port: int):
    # An MCP server must be registered as https:// on 443 for an AWS stack (docs/DEPLOY.md).
    _, groups = chat_function_paths(dev.graph)
    assert not any(allows_out(group, port) for group in groups)
