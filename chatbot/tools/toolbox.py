"""The tools one chat may call, resolved from the user's choice, and the hook that puts the tool
loop in place of a generation's single model call (the pipeline's generate stage then streams
the loop's events: calls, results and the final answer)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from chatbot.api.tool_specs import ToolRequest
from chatbot.errors import ParameterError
from chatbot.models.bedrock import BedrockEndpoint
from chatbot.tools.loop import LoopLimits, ToolRunner, run_tool_loop

if TYPE_CHECKING:
    from chatbot.chat.pipeline import Generation


@dataclass
class Toolbox:
    tools: ToolRequest
    run_tool: ToolRunner
    limits: LoopLimits = field(default_factory=LoopLimits)

    def check(self, endpoint: Any) -> None:
        """Before anything is saved: the model must take tools, through the Converse API."""
        endpoint.spec.check_takes_tools()
        if not isinstance(endpoint, BedrockEndpoint):
            raise ParameterError(
                f"{endpoint.spec.name} cannot use tools in a chat yet: pick a model served through "
                "the Converse API (kind: bedrock)."
            )

    def around(self, generation: Generation, cancelled: threading.Event | None = None) -> Generation:
        """The generation with the tool loop in place of its single call (not started yet)."""
        self.check(generation.endpoint)
        if (close := getattr(generation.events, "close", None)) is not None:
            close()  # the single call was made lazily: nothing ran
        prompt = generation.prompt.prompt
        if isinstance(prompt, str):
            raise ParameterError(f"{generation.endpoint.spec.name} takes a text prompt: tools need messages.")
        events = run_tool_loop(
            generation.endpoint,
            list(prompt),
            generation.params,
            self.tools,
            self.run_tool,
            limits=self.limits,
            cancelled=cancelled,
        )
        return replace(generation, events=events)
