"""Query parameters the Bing way: names are case-insensitive, unknown names are ignored, and
the first of repeated names wins. Also the base URL of the links both APIs put in replies."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from geobatch.jobs.errors import BadJobRequest

OUTPUT_FORMATS = ("json", "xml")


@dataclass(frozen=True, slots=True)
class Query:
    values: dict[str, str]

    @classmethod
    def of(cls, request: Request) -> Query:
        values: dict[str, str] = {}
        for name, value in request.query_params.multi_items():
            values.setdefault(name.lower(), value)
        return cls(values)

    def get(self, *names: str) -> str | None:
        """The first of ``names`` (aliases) present; blank values count as absent."""
        for name in names:
            value = self.values.get(name)
            if value is not None and value.strip():
                return value.strip()
        return None

    @property
    def key(self) -> str | None:
        # Only the key's value is case-sensitive.
        return self.get("key")

    def output_format(self) -> str:
        """``output``/``o``: json (default) or xml, any case."""
        value = self.get("output", "o")
        if value is None:
            return "json"
        if value.lower() not in OUTPUT_FORMATS:
            raise BadJobRequest(f"output must be json or xml, not {value!r}")
        return value.lower()


def output_format_or_json(request: Request) -> str:
    """The response format for an error: the asked-for one when it is valid, else JSON."""
    value = Query.of(request).get("output", "o")
    return value.lower() if value and value.lower() in OUTPUT_FORMATS else "json"


def base_url(request: Request) -> str:
    """The base of the links in replies: the configured public URL, else the request's own."""
    public: str | None = request.app.state.settings.public_url
    return (public or str(request.base_url)).rstrip("/")
