"""Network: a VPC over two AZs with public, private (NAT egress) and isolated subnets.

Built from plain pulumi_aws resources rather than awsx.ec2.Vpc so the tests (and the security
rules) see every subnet, route, endpoint and security group (REFERENCE.md: under mocks awsx's
Vpc is one opaque resource).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

AZ_COUNT = 2
#: AWS APIs that private resources call; interface endpoints keep that traffic off the NAT.
INTERFACE_SERVICES = ("sagemaker.runtime", "secretsmanager")
GATEWAY_SERVICES = ("s3", "dynamodb")


@dataclass
class NetworkArgs:
    region: str
    cidr_block: str = "10.20.0.0/16"
    nat_gateways: int = 1
    flow_log_retention_days: int = 30


class Network(pulumi.ComponentResource):
    """Subnet tiers: public (ALB, NAT), private (Lambdas, ECS tasks), isolated (RDS, no route out)."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("chatbot:network:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.cidr_block = args.cidr_block
        blocks = list(ipaddress.ip_network(args.cidr_block).subnets(new_prefix=20))
        zones = aws.get_availability_zones_output(
            state="available", opts=pulumi.InvokeOutputOptions(parent=self)
        )

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr_block,
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
        nats: list[aws.ec2.NatGateway] = []
        for index in range(AZ_COUNT):
            zone = zones.names.apply(lambda names, i=index: names[i])
            public = self._subnet(name, "public", index, str(blocks[index]), zone, public_rt, child)
            self.public_subnets.append(public)
            if index < args.nat_gateways:
                eip = aws.ec2.Eip(f"{name}-nat-eip-{index}", domain="vpc", opts=child)
                nats.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{index}", allocation_id=eip.id, subnet_id=public.id, opts=child
                    )
                )
        for index in range(AZ_COUNT):
            zone = zones.names.apply(lambda names, i=index: names[i])
            # With one NAT every private subnet shares it (cheap); with two each AZ keeps its own.
            nat = nats[index % len(nats)]
            private_rt = aws.ec2.RouteTable(
                f"{name}-private-rt-{index}",
                vpc_id=self.vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
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
                    protocol="tcp", from_port=443, to_port=443, cidr_blocks=[args.cidr_block]
                )
            ],
            opts=child,
        )
        for service in INTERFACE_SERVICES:
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}-endpoint",
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[subnet.id for subnet in self.private_subnets],
                security_group_ids=[self.endpoints_security_group.id],
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
                    protocol="tcp", from_port=5432, to_port=5432, cidr_blocks=[args.cidr_block]
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
            f"{name}-flow-logs", retention_in_days=args.flow_log_retention_days, opts=child
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
