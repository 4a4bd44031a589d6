"""Builds the router's object graph from settings; tests pass their own collaborators."""

from __future__ import annotations

from dataclasses import dataclass

from router.classifier import KeywordClassifier
from router.settings import RouterSettings
from services.bus import Publisher
from services.store import Store
from services.taxonomy import Taxonomy, load_taxonomy


@dataclass
class Router:
    """Everything the router's handlers need."""

    settings: RouterSettings
    store: Store
    publisher: Publisher | None
    taxonomy: Taxonomy
    classifier: KeywordClassifier


def bootstrap(
    settings: RouterSettings, *, store: Store | None = None, publisher: Publisher | None = None
) -> Router:
    """The router wired to MongoDB; the publisher comes from the faust app when not given."""
    taxonomy = load_taxonomy(settings.taxonomy_file)
    return Router(
        settings=settings,
        store=store or Store.connect(settings.mongo, app_name="pasokh-router"),
        publisher=publisher,
        taxonomy=taxonomy,
        classifier=KeywordClassifier(taxonomy),
    )
