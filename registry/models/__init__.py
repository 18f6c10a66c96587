"""Registry records. catalog: models, versions, features, environments, deployments.
gate: decision rights, deployment requests, approvals. cards: public model cards.
mlflow: what the MLflow registry sync imported and the aliases it watches."""

from registry.models.cards import *  # noqa: F401,F403,E402
from registry.models.catalog import *  # noqa: F401,F403
from registry.models.gate import *  # noqa: F401,F403
from registry.models.mlflow import *  # noqa: F401,F403,E402
