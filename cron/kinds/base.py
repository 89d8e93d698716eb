"""The base class of scheduled job kinds: one module per kind, one subclass each.

A kind has a params model (checked when the config loads), a check against the tenant
(templates and resources exist), and a run method returning a short output for the run
history; a run raises to fail the run, and `retryable` says whether another attempt may help.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, create_model

from tenants.config import Tenant

if TYPE_CHECKING:  # the config reads the kinds; a job is only handed to them
    from cron.config import Job


class JobKind:
    name: ClassVar[str]
    params_type: ClassVar[Any]  # what a job's `params:` must be (a model, or a union of them)
    # Built from params_type: a model with one field, `params`, so a problem names `params.<key>`.
    params_model: ClassVar[type[BaseModel]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.params_model = create_model(
            f"{cls.__name__}Job",
            __config__=ConfigDict(extra="forbid", frozen=True),
            params=(cls.params_type, ...),
        )

    def check(self, tenant: Tenant, params: Any) -> list[tuple[str, str]]:  # noqa: ARG002
        """Problems of `params` with this tenant, as (key under params, message); none by default."""
        return []

    def run(self, tenant: Tenant, params: Any, job: Job) -> str:
        raise NotImplementedError

    def retryable(self, exc: Exception) -> bool:  # noqa: ARG002
        """Whether another attempt may help; by default any failure may be passing."""
        return True
