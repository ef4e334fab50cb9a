"""Network: a VPC over two AZs with public, private (NAT egress) and isolated subnets.

Built from plain pulumi_aws resources rather than awsx.ec2.Vpc so the tests (and the security
rules) see every subnet, route, endpoint and security group (docs/REFERENCE.md: under mocks awsx's
Vpc is one opaque resource).
"""

from __future__ import annotations

import functools
import ipaddress
import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from chatbot.errors import ConfigError
from infra.config import NetworkConfig

AZ_COUNT = 2
#: Gateway endpoints cost nothing: DynamoDB (history and model registry) and S3 (documents, and
#: the image layers ECR serves from S3) never cross the NAT.
GATEWAY_SERVICES = ("s3", "dynamodb")
#: Interface endpoints, each for the AWS API a Lambda calls (service -> why). The program creates
#: those its stack needs (program.interface_endpoints); their traffic never crosses the NAT.
INTERFACE_SERVICES = {
    "bedrock-runtime": "the chat API calls Bedrock models (Converse, ConverseStream)",
    "sagemaker.runtime": "the chat API and the indexer call SageMaker endpoints (chat models, embeddings)",
    "secretsmanager": "the chat API and the indexer read the database's secret; the web tasks their auth secret",
}
#: What a NAT (gateway or instance) still carries, because no VPC endpoint serves it: the chat
#: API's fetch of the Cognito user pool's signing keys (a pool with a hosted-UI domain cannot use
#: PrivateLink), and the web tasks' calls to the chat API's function URL (no PrivateLink) and to
#: the Cognito hosted UI's token endpoint, plus their image pulls and logs.
#: Amazon Linux 2023's documented NAT instance set-up: forward, masquerade, keep it over reboots.
NAT_INSTANCE_USER_DATA = """#!/bin/bash
set -euo pipefail
dnf install -y iptables-services
systemctl enable --now iptables
echo "net.ipv4.ip_forward=1" > /etc/sysctl.d/90-nat.conf
sysctl -p /etc/sysctl.d/90-nat.conf
uplink=$(ip route show default | awk '{print $5; exit}')
iptables -t nat -A POSTROUTING -o "$uplink" -j MASQUERADE
iptables -F FORWARD
service iptables save
"""
#: The current Amazon Linux 2023 AMI for arm64 (Graviton t4g instances), as AWS publishes it.
AL2023_ARM64_AMI = "al2023-ami-2023.*-kernel-6.1-arm64"


@dataclass
class NetworkArgs:
    region: str
    #: The stack's chatbot:network section (CIDR, NAT gateways or instance, endpoint AZs, flow logs).
    config: NetworkConfig = field(default_factory=NetworkConfig)
    #: service -> why, from INTERFACE_SERVICES: the interface endpoints this stack needs.
    interface_endpoints: dict[str, str] = field(default_factory=lambda: dict(INTERFACE_SERVICES))


def choose_zones(zones: list[str], offered_by: dict[str, list[str]], needed: int) -> list[str]:
    """The subnets' AZs: first those where every interface endpoint service (and the NAT
    instance's type) is offered, since the endpoints and the NAT instance use the first subnets;
    then the rest, in the Region's order. `offered_by`: service or instance type -> its AZs.
    Raises ConfigError when fewer than `needed` AZs offer everything."""
    everywhere = [zone for zone in zones if all(zone in offered for offered in offered_by.values())]
    if len(everywhere) < needed:
        missing = {
            what: sorted(set(zones) - set(offered))
            for what, offered in offered_by.items()
            if set(zones) - set(offered)
        }
        raise ConfigError(
            f"the stack needs {needed} AZ(s) where {', '.join(offered_by)} are all offered; only "
            f"{everywhere or 'none'} are (not offered: {missing}). Lower network.interface_endpoint_azs, "
            "pick another nat_instance_type, or deploy in another Region."
        )
    return [*everywhere, *(zone for zone in zones if zone not in everywhere)][:AZ_COUNT]


def _nth(names: list[str], index: int) -> str:
    return names[index]


class Network(pulumi.ComponentResource):
    """Subnet tiers: public (ALB, NAT), private (Lambdas, ECS tasks), isolated (RDS, no route out)."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("chatbot:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.cidr_block = args.config.cidr_block
        blocks = list(ipaddress.ip_network(args.config.cidr_block).subnets(new_prefix=20))
        zones = self._zones(args)

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.config.cidr_block,
            enable_dns_hostnames=True,  # interface endpoints' private DNS needs both
            enable_dns_support=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        # Adopt the VPC's default security group and strip its rules: nothing may use it by accident.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=self.vpc.id, opts=child)
        self._flow_logs(name, args, child)

        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, opts=child)
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=self.vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            opts=child,
        )
        isolated_rt = aws.ec2.RouteTable(f"{name}-isolated-rt", vpc_id=self.vpc.id, opts=child)

        self.public_subnets: list[aws.ec2.Subnet] = []
        self.private_subnets: list[aws.ec2.Subnet] = []
        self.isolated_subnets: list[aws.ec2.Subnet] = []
        private_rts: list[aws.ec2.RouteTable] = []
        nats: list[aws.ec2.RouteTableRouteArgs] = []
        for index in range(AZ_COUNT):
            zone = zones.apply(functools.partial(_nth, index=index))
            public = self._subnet(name, "public", index, str(blocks[index]), zone, public_rt, child)
            self.public_subnets.append(public)
            if index < args.config.nat_gateways:
                eip = aws.ec2.Eip(f"{name}-nat-eip-{index}", domain="vpc", opts=child)
                nat = aws.ec2.NatGateway(
                    f"{name}-nat-{index}", allocation_id=eip.id, subnet_id=public.id, opts=child
                )
                nats.append(aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id))
        if args.config.nat_instance_type:
            instance = self._nat_instance(name, args, self.public_subnets[0], child)
            nats.append(
                aws.ec2.RouteTableRouteArgs(
                    cidr_block="0.0.0.0/0", network_interface_id=instance.primary_network_interface_id
                )
            )
        for index in range(AZ_COUNT):
            zone = zones.apply(functools.partial(_nth, index=index))
            # With one NAT every private subnet shares it (cheap); with two each AZ keeps its own.
            private_rt = aws.ec2.RouteTable(
                f"{name}-private-rt-{index}",
                vpc_id=self.vpc.id,
                routes=[nats[index % len(nats)]],
                opts=child,
            )
            private_rts.append(private_rt)
            self.private_subnets.append(
                self._subnet(name, "private", index, str(blocks[AZ_COUNT + index]), zone, private_rt, child)
            )
            self.isolated_subnets.append(
                self._subnet(
                    name, "isolated", index, str(blocks[2 * AZ_COUNT + index]), zone, isolated_rt, child
                )
            )

        for service in GATEWAY_SERVICES:
            aws.ec2.VpcEndpoint(
                f"{name}-{service}-endpoint",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Gateway",
                route_table_ids=[*(rt.id for rt in private_rts), isolated_rt.id],
                opts=child,
            )
        self.endpoints_security_group = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=self.vpc.id,
            description="HTTPS from inside the VPC to AWS interface endpoints",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=443, to_port=443, cidr_blocks=[args.config.cidr_block]
                )
            ],
            opts=child,
        )
        for service, why in args.interface_endpoints.items():
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}-endpoint",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                # Private DNS answers from every AZ; a caller in another AZ crosses to it ($0.01/GB).
                subnet_ids=[
                    subnet.id for subnet in self.private_subnets[: args.config.interface_endpoint_azs]
                ],
                security_group_ids=[self.endpoints_security_group.id],
                tags={"Name": f"{name}-{service}", "why": why},
                opts=child,
            )
        # Lambdas: HTTPS out (AWS APIs, via endpoints or NAT) and Postgres inside the VPC. No ingress.
        self.functions_security_group = aws.ec2.SecurityGroup(
            f"{name}-functions-sg",
            vpc_id=self.vpc.id,
            description="Lambda functions: HTTPS out, Postgres inside the VPC",
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp", from_port=443, to_port=443, cidr_blocks=["0.0.0.0/0"]
                ),
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp", from_port=5432, to_port=5432, cidr_blocks=[args.config.cidr_block]
                ),
            ],
            opts=child,
        )

        self.vpc_id = self.vpc.id
        self.public_subnet_ids = [subnet.id for subnet in self.public_subnets]
        self.private_subnet_ids = [subnet.id for subnet in self.private_subnets]
        self.isolated_subnet_ids = [subnet.id for subnet in self.isolated_subnets]
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "isolated_subnet_ids": self.isolated_subnet_ids,
            }
        )

    def _zones(self, args: NetworkArgs) -> pulumi.Output[list[str]]:
        """AZs for the subnets, asked of AWS at deploy time (DescribeVpcEndpointServices, and the
        NAT instance type's offerings): not every service is offered in every AZ (choose_zones)."""
        invoke = pulumi.InvokeOutputOptions(parent=self)
        zones = aws.get_availability_zones_output(state="available", opts=invoke)
        offered: dict[str, pulumi.Output[list[str]]] = {
            service: aws.ec2.get_vpc_endpoint_service_output(
                service_name=f"com.amazonaws.{args.region}.{service}", opts=invoke
            ).availability_zones
            for service in args.interface_endpoints
        }
        if args.config.nat_instance_type:
            offered[args.config.nat_instance_type] = aws.ec2.get_instance_type_offerings_output(
                location_type="availability-zone",
                filters=[
                    aws.ec2.GetInstanceTypeOfferingsFilterArgs(
                        name="instance-type", values=[args.config.nat_instance_type]
                    )
                ],
                opts=invoke,
            ).locations
        needed = args.config.interface_endpoint_azs if args.interface_endpoints else 0
        return pulumi.Output.all(zones.names, pulumi.Output.all(**offered) if offered else {}).apply(
            lambda resolved: choose_zones(list(resolved[0]), dict(resolved[1]), needed)
        )

    def _nat_instance(
        self, name: str, args: NetworkArgs, subnet: aws.ec2.Subnet, child: pulumi.ResourceOptions
    ) -> aws.ec2.Instance:
        """One small instance that forwards the private subnets' HTTPS to the internet. It admits
        only the VPC; IMDSv2 only; encrypted root volume. EC2 recovers it on host failure (the
        default for t4g); a stack that needs NAT to survive an AZ outage uses nat_gateways: 2."""
        security_group = aws.ec2.SecurityGroup(
            f"{name}-nat-sg",
            vpc_id=self.vpc.id,
            description="NAT instance: HTTP(S) from inside the VPC, out to the internet",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=port, to_port=port, cidr_blocks=[args.config.cidr_block]
                )
                for port in (80, 443)
            ],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp", from_port=port, to_port=port, cidr_blocks=["0.0.0.0/0"]
                )
                for port in (80, 443)
            ],
            opts=child,
        )
        ami = aws.ec2.get_ami_output(
            most_recent=True,
            owners=["amazon"],
            filters=[
                aws.ec2.GetAmiFilterArgs(name="name", values=[AL2023_ARM64_AMI]),
                aws.ec2.GetAmiFilterArgs(name="architecture", values=["arm64"]),
            ],
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        return aws.ec2.Instance(
            f"{name}-nat-instance",
            ami=ami.id,
            instance_type=args.config.nat_instance_type,
            subnet_id=subnet.id,
            associate_public_ip_address=True,
            source_dest_check=False,  # it forwards packets that are not its own
            vpc_security_group_ids=[security_group.id],
            user_data=NAT_INSTANCE_USER_DATA,
            user_data_replace_on_change=True,
            metadata_options=aws.ec2.InstanceMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required"
            ),
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
                encrypted=True, volume_type="gp3", volume_size=8
            ),
            tags={"Name": f"{name}-nat-instance"},
            # A new AMI must not replace the NAT under running traffic: replace it deliberately.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["ami"]),
        )

    def _subnet(
        self,
        name: str,
        tier: str,
        index: int,
        cidr: str,
        zone: pulumi.Input[str],
        route_table: aws.ec2.RouteTable,
        child: pulumi.ResourceOptions,
    ) -> aws.ec2.Subnet:
        subnet = aws.ec2.Subnet(
            f"{name}-{tier}-{index}",
            vpc_id=self.vpc.id,
            cidr_block=cidr,
            availability_zone=zone,
            map_public_ip_on_launch=False,  # nothing here gets a public IP unless it asks (ALB, NAT)
            tags={"Name": f"{name}-{tier}-{index}", "tier": tier},
            opts=child,
        )
        aws.ec2.RouteTableAssociation(
            f"{name}-{tier}-{index}-rta", subnet_id=subnet.id, route_table_id=route_table.id, opts=child
        )
        return subnet

    def _flow_logs(self, name: str, args: NetworkArgs, child: pulumi.ResourceOptions) -> None:
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs", retention_in_days=args.config.flow_log_retention_days, opts=child
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.id,
            policy=log_group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": [
                                    "logs:CreateLogStream",
                                    "logs:PutLogEvents",
                                    "logs:DescribeLogStreams",
                                ],
                                "Resource": [arn, f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            opts=child,
        )
