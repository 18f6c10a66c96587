"""Registry records. catalog: models, versions, features, environments, deployments.
gate: decision rights, deployment requests, approvals."""

from registry.models.catalog import *  # noqa: F401,F403
from registry.models.gate import *  # noqa: F401,F403
