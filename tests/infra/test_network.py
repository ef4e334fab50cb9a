"""Network: three subnet tiers over two AZs, NAT per stack, endpoints, flow logs, and which
resource sits in which tier."""

from __future__ import annotations

import pytest

from chatbot.errors import ConfigError
from infra.checks.offline import ENDPOINT_SERVICE_AZ_SUFFIXES, OfflineRun, RecordedResource, ResourceGraph
from infra.components.network import INTERFACE_SERVICES, choose_zones
from tests.infra.support import one

SUBNET = "aws:ec2/subnet:Subnet"


def tier(graph: ResourceGraph, name: str) -> set[str]:
    """Subnet ids of a tier (public, private, isolated)."""
    return {s.id for s in graph.of_type(SUBNET) if s.inputs["tags"]["tier"] == name}


def route_table_of(graph: ResourceGraph, subnet: RecordedResource) -> RecordedResource:
    association = next(
        a
        for a in graph.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation")
        if a.inputs["subnetId"] == subnet.id
    )
    return next(
        rt
        for rt in graph.of_type("aws:ec2/routeTable:RouteTable")
        if rt.id == association.inputs["routeTableId"]
    )


def test_three_tiers_of_subnets_over_two_availability_zones(dev: OfflineRun):
    subnets = dev.graph.of_type(SUBNET)
    assert (
        sorted(s.inputs["tags"]["tier"] for s in subnets)
        == ["isolated"] * 2 + ["private"] * 2 + ["public"] * 2
    )
    for name in ("public", "private", "isolated"):
        zones = {s.inputs["availabilityZone"] for s in subnets if s.inputs["tags"]["tier"] == name}
        assert zones == {"us-east-1b", "us-east-1c"}, name
    assert not any(s.inputs["mapPublicIpOnLaunch"] for s in subnets)


def test_endpoints_and_the_nat_instance_go_where_every_endpoint_service_is_offered(dev: OfflineRun):
    """The offline Region offers bedrock-runtime in b and c only (ENDPOINT_SERVICE_AZ_SUFFIXES), as
    DescribeVpcEndpointServices can answer: dev's one-AZ endpoints and its NAT instance must not
    land in a, the Region's first AZ."""
    assert ENDPOINT_SERVICE_AZ_SUFFIXES["bedrock-runtime"] == ("b", "c")
    subnets = {s.id: s.inputs["availabilityZone"] for s in dev.graph.of_type(SUBNET)}
    for endpoint in dev.graph.of_type("aws:ec2/vpcEndpoint:VpcEndpoint"):
        if endpoint.inputs["vpcEndpointType"] == "Interface":
            assert [subnets[s] for s in endpoint.inputs["subnetIds"]] == ["us-east-1b"], endpoint.urn
    nat = one(dev.graph, "aws:ec2/instance:Instance", "network-nat-instance")
    assert subnets[nat.inputs["subnetId"]] == "us-east-1b"


def test_zones_are_chosen_where_everything_is_offered_or_the_stack_fails_naming_what_is_missing():
    zones = ["r-1a", "r-1b", "r-1c"]
    offered = {"bedrock-runtime": ["r-1b", "r-1c"], "t4g.nano": ["r-1a", "r-1c"]}
    assert choose_zones(zones, offered, needed=1) == ["r-1c", "r-1a"]
    assert choose_zones(zones, {}, needed=2) == ["r-1a", "r-1b"]
    with pytest.raises(ConfigError, match=r"needs 2 AZ\(s\).*bedrock-runtime.*r-1a"):
        choose_zones(zones, offered, needed=2)


def private_default_routes(graph: ResourceGraph) -> list[dict]:
    """The 0.0.0.0/0 route of each private subnet; public subnets go to the internet gateway and
    isolated ones nowhere."""
    routes_out = []
    for subnet in graph.of_type(SUBNET):
        routes = route_table_of(graph, subnet).inputs.get("routes", [])
        kind = subnet.inputs["tags"]["tier"]
        if kind == "public":
            assert routes[0]["gatewayId"] == one(graph, "aws:ec2/internetGateway:InternetGateway").id
        elif kind == "private":
            assert [r["cidrBlock"] for r in routes] == ["0.0.0.0/0"]
            routes_out.append(routes[0])
        else:
            assert routes == [], "isolated subnets have no route out of the VPC"
    return routes_out


def test_prod_has_a_nat_gateway_per_az_and_each_private_subnet_routes_through_its_own(prod: OfflineRun):
    graph = prod.graph
    gateways = graph.of_type("aws:ec2/natGateway:NatGateway")
    assert len(gateways) == 2
    assert {g.inputs["subnetId"] for g in gateways} <= tier(graph, "public")
    assert {r["natGatewayId"] for r in private_default_routes(graph)} == {g.id for g in gateways}


def test_dev_has_no_nat_gateway_but_one_hardened_nat_instance(dev: OfflineRun):
    graph = dev.graph
    assert graph.of_type("aws:ec2/natGateway:NatGateway") == []
    instance = one(graph, "aws:ec2/instance:Instance", "network-nat-instance")
    assert instance.inputs["instanceType"] == "t4g.nano"
    assert instance.inputs["subnetId"] in tier(graph, "public")
    assert instance.inputs["sourceDestCheck"] is False
    assert instance.inputs["associatePublicIpAddress"] is True
    assert instance.inputs["metadataOptions"]["httpTokens"] == "required"
    assert instance.inputs["rootBlockDevice"]["encrypted"] is True
    assert "MASQUERADE" in instance.inputs["userData"]
    assert {r["networkInterfaceId"] for r in private_default_routes(graph)} == {"eni-network-nat-instance"}
    nat_sg = one(graph, "aws:ec2/securityGroup:SecurityGroup", "network-nat-sg")
    assert {(r["fromPort"], tuple(r["cidrBlocks"])) for r in nat_sg.inputs["ingress"]} == {
        (80, ("10.20.0.0/16",)),
        (443, ("10.20.0.0/16",)),
    }


def test_a_stack_needs_exactly_one_way_out():
    from chatbot.errors import ConfigError
    from infra.checks.offline_stack import offline_run
    from tests.infra.support import stack_config

    for network in ({"nat_gateways": 0}, {"nat_gateways": 1, "nat_instance_type": "t4g.nano"}):
        with pytest.raises(ConfigError, match="set nat_gateways .* or nat_instance_type"):
            offline_run("dev", stack_config("dev", network=network))


def test_gateway_and_interface_endpoints_serve_the_private_parts(dev: OfflineRun):
    graph = dev.graph
    endpoints = {e.inputs["serviceName"]: e for e in graph.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")}
    for service in ("s3", "dynamodb"):
        gateway = endpoints[f"com.amazonaws.us-east-1.{service}"]
        assert gateway.inputs["vpcEndpointType"] == "Gateway"
        assert len(gateway.inputs["routeTableIds"]) == 3  # two private tables and the isolated one
    interfaces = {
        name.split(".", 3)[3]: e
        for name, e in endpoints.items()
        if e.inputs["vpcEndpointType"] == "Interface"
    }
    # Exactly what dev's code calls: Bedrock (chat), SageMaker (serverless embeddings), Secrets Manager.
    assert set(interfaces) == {"bedrock-runtime", "sagemaker.runtime", "secretsmanager"}
    for service, interface in interfaces.items():
        assert interface.inputs["privateDnsEnabled"] is True
        assert len(interface.inputs["subnetIds"]) == 1, "dev's interface endpoints sit in one AZ"
        assert set(interface.inputs["subnetIds"]) <= tier(graph, "private")
        assert interface.inputs["tags"]["why"] == INTERFACE_SERVICES[service]
    endpoints_sg = one(graph, "aws:ec2/securityGroup:SecurityGroup", "network-endpoints-sg")
    ingress = [(r["fromPort"], r["toPort"], r["cidrBlocks"]) for r in endpoints_sg.inputs["ingress"]]
    assert ingress == [(443, 443, ["10.20.0.0/16"])]


def test_each_resource_sits_in_its_tier(dev: OfflineRun):
    graph = dev.graph
    db_subnets = one(graph, "aws:rds/subnetGroup:SubnetGroup")
    assert set(db_subnets.inputs["subnetIds"]) == tier(graph, "isolated")
    for function in graph.of_type("aws:lambda/function:Function"):
        if function.name == "gateway-edge-function":
            continue  # Lambda@Edge runs at CloudFront's edge, in no VPC
        assert set(function.inputs["vpcConfig"]["subnetIds"]) == tier(graph, "private"), function.urn
    service = one(graph, "aws:ecs/service:Service")
    assert set(service.inputs["networkConfiguration"]["subnets"]) == tier(graph, "private")
    alb = one(graph, "aws:lb/loadBalancer:LoadBalancer")
    assert set(alb.inputs["subnets"]) == tier(graph, "public")


def test_flow_logs_capture_all_traffic_into_a_retained_log_group(dev: OfflineRun):
    graph = dev.graph
    flow_log = one(graph, "aws:ec2/flowLog:FlowLog")
    assert flow_log.inputs["vpcId"] == one(graph, "aws:ec2/vpc:Vpc").id
    assert flow_log.inputs["trafficType"] == "ALL"
    group = one(graph, "aws:cloudwatch/logGroup:LogGroup", "network-flow-logs")
    assert flow_log.inputs["logDestination"] == group.arn
    assert group.inputs["retentionInDays"] == 30


def test_the_default_security_group_is_adopted_with_no_rules(dev: OfflineRun):
    default = one(dev.graph, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert not default.inputs.get("ingress")
    assert not default.inputs.get("egress")


def test_functions_may_only_reach_https_and_postgres(dev: OfflineRun):
    functions_sg = one(dev.graph, "aws:ec2/securityGroup:SecurityGroup", "network-functions-sg")
    assert not functions_sg.inputs.get("ingress")
    assert sorted(rule["fromPort"] for rule in functions_sg.inputs["egress"]) == [443, 5432]
    postgres = next(rule for rule in functions_sg.inputs["egress"] if rule["fromPort"] == 5432)
    assert postgres["cidrBlocks"] == ["10.20.0.0/16"]
