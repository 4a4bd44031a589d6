"""Builds the router's object graph from settings; tests pass their own collaborators."""

from __future__ import annotations

from dataclasses import dataclass

from router.emergency import EmergencyDetector
from router.model import TrainedModel, default_model_dir
from router.routing import RoutingTable
from router.rules import Rules
from router.serving import ServingClassifier
from router.settings import RouterSettings
from router.sla import SlaPolicy
from services.bus import Publisher
from services.mongo_metrics import CommandCounter
from services.store import Store
from services.taxonomy import Taxonomy, load_taxonomy


@dataclass
class Router:
    """Everything the router's handlers need."""

    settings: RouterSettings
    store: Store
    publisher: Publisher | None
    taxonomy: Taxonomy
    classifier: ServingClassifier
    routing: RoutingTable
    sla: SlaPolicy


def bootstrap(
    settings: RouterSettings, *, store: Store | None = None, publisher: Publisher | None = None
) -> Router:
    """The router wired to MongoDB; the publisher comes from the faust app when not given."""
    taxonomy = load_taxonomy(settings.taxonomy_file)
    return Router(
        settings=settings,
        store=store or Store.connect(settings.mongo, app_name="pasokh-router", listeners=[CommandCounter()]),
        publisher=publisher,
        taxonomy=taxonomy,
        classifier=build_classifier(settings, taxonomy),
        routing=RoutingTable(taxonomy),
        sla=SlaPolicy.from_options(settings.sla),
    )


def build_classifier(settings: RouterSettings, taxonomy: Taxonomy) -> ServingClassifier:
    """The shipped (or configured) model with the city's rules; the store's active version replaces it."""
    options = settings.classifier
    return ServingClassifier(
        TrainedModel.load(options.model_dir or default_model_dir()),
        taxonomy=taxonomy,
        rules=Rules.load(options.rules_file, categories=set(taxonomy.categories)),
        emergency=EmergencyDetector.load(options.emergency_file),
        threshold=options.triage_threshold,
    )
