"""What a tool is, as every layer passes it on: a name, a description and a JSON Schema of its
arguments; and which of them a model must call (the tool choice)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chatbot.models.events import ToolCallEvent, ToolResultEvent


class ToolSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: What the model calls it (OpenAI's and Bedrock's rule: letters, digits, _ and -).
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str = Field("", max_length=4096)
    #: JSON Schema of the arguments, an object schema.
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    #: The MCP server that runs it; None for a tool the caller runs itself (the /v1 gateway).
    server: str | None = None

    @field_validator("parameters")
    @classmethod
    def _valid_json_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        # Imported on first use: jsonschema takes a tenth of a second, and most requests bring no tools.
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise ValueError(f"not valid JSON Schema: {exc.message}") from None
        return schema


class ToolChoice(BaseModel):
    """auto: the model chooses; any: it must call one of the tools; tool: it must call `name`;
    none: it must not call any."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["auto", "any", "tool", "none"] = "auto"
    name: str | None = None

    @model_validator(mode="after")
    def _named_when_forced(self) -> ToolChoice:
        if (self.mode == "tool") != (self.name is not None):
            raise ValueError("a tool choice names a tool exactly when its mode is 'tool'")
        return self


class ToolRequest(BaseModel):
    """The tools a model may call in one answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tools: list[ToolSpec] = Field(min_length=1)
    choice: ToolChoice = Field(default_factory=ToolChoice)

    @model_validator(mode="after")
    def _choice_among_tools(self) -> ToolRequest:
        names = [tool.name for tool in self.tools]
        if len(set(names)) != len(names):
            raise ValueError("two tools have the same name; tool names must be unique")
        if self.choice.mode == "tool" and self.choice.name not in names:
            raise ValueError(f"the tool choice names {self.choice.name!r}, which is not among the tools")
        return self


class ToolStep(BaseModel):
    """One tool call of an answer and what it returned, as the history keeps it (the result is
    untrusted text: shown escaped, never as markup)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    server: str | None = None
    arguments: dict[str, Any]
    result: str | None = None
    is_error: bool = False
    truncated: bool = False


def tool_steps(steps: list[ToolStep], event: ToolCallEvent | ToolResultEvent) -> list[ToolStep]:
    """The steps with this event added: a call opens a step, its result completes it."""
    if isinstance(event, ToolCallEvent):
        return [
            *steps,
            ToolStep(id=event.id, name=event.name, server=event.server, arguments=event.arguments),
        ]
    return [
        step.model_copy(
            update={"result": event.content, "is_error": event.is_error, "truncated": event.truncated}
        )
        if step.id == event.id
        else step
        for step in steps
    ]
