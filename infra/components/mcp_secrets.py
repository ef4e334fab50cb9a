"""The MCP servers' auth secrets in AWS: the stack's own name prefix in Secrets Manager, and the chat
API role's grant on exactly that prefix.

The registry (chatbot/tools/registry.py, DynamoDBMcpRegistry) keeps one secret per server, named
`<prefix>/<server>`: it creates the secret when a server is first registered with an auth header,
puts a new value when an administrator replaces it, reads it when the tool loop connects, and
deletes it with the server. Those four calls are the grant; the prefix carries the stack's name,
so no stack's role reaches another stack's servers, nor any secret the program does not name.
"""

from __future__ import annotations

import pulumi

from infra.components.iam import Statement, allow

#: The registry's calls on an existing secret (put_secret_value, get_secret_value, delete_secret).
SECRET_ACTIONS = (
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:DeleteSecret",
)
#: Its one call that makes a secret (create_secret, when put_secret_value finds none).
CREATE_ACTION = "secretsmanager:CreateSecret"
#: Request keys create_secret may carry that the registry never sends, so the grant refuses them
#: (IAM's Null test: "true" means the key must be absent): no copy in another Region, no key but
#: the account's aws/secretsmanager (which the role may use through Secrets Manager without a KMS
#: grant), no tags, description or managed-secret type that would make it pass for another secret.
ABSENT_ON_CREATE = (
    "secretsmanager:AddReplicaRegions",
    "secretsmanager:ForceOverwriteReplicaSecret",
    "secretsmanager:KmsKeyId",
    "secretsmanager:KmsKeyArn",
    "secretsmanager:Description",
    "secretsmanager:Type",
    "aws:TagKeys",
)


def secret_prefix(stack: str) -> str:
    """The stack's MCP secrets' name prefix (the chat API's CHATBOT_MCP_SECRET_PREFIX). The stack's
    name sits before `/mcp`, so `chatbot-dev/mcp/*` never matches `chatbot-dev2/mcp/...`."""
    return f"chatbot-{stack}/mcp"


def secrets_arn(region: str, account: pulumi.Input[str], stack: str) -> pulumi.Output[str]:
    """Every secret under the prefix, with the six characters Secrets Manager appends to a name."""
    return pulumi.Output.concat(
        "arn:aws:secretsmanager:", region, ":", account, ":secret:", secret_prefix(stack), "/*"
    )


def mcp_secret_statements(region: str, account: pulumi.Input[str], stack: str) -> list[Statement]:
    """The chat API role's statements for its MCP secrets: nothing beyond the stack's prefix."""
    arn = secrets_arn(region, account, stack)
    return [
        allow(list(SECRET_ACTIONS), [arn]),
        allow(
            [CREATE_ACTION],
            [arn],
            condition={
                # The resource already says it; the name condition says it again where IAM reads
                # the request itself, before any ARN exists.
                "StringLike": {"secretsmanager:Name": f"{secret_prefix(stack)}/*"},
                "Null": {key: "true" for key in ABSENT_ON_CREATE},
            },
        ),
    ]
