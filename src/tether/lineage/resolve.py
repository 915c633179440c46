"""Resolve a user-typed URI to the entity whose lineage is asked for."""

from __future__ import annotations

from tether.errors import ConfigError, InvalidURIError
from tether.lineage.graph import Node, downstream, upstream
from tether.store import SqlStore, get_store
from tether.uris import parse_dataset_uri, parse_model_uri, parse_run_uri


def upstream_of(uri: str) -> Node:
    """Return the upstream lineage tree of ``models:/``, ``datasets:/`` or ``runs:/`` URIs."""
    store = get_store()
    kind, entity_id = entity_of(store, uri)
    return upstream(store, kind, entity_id)


def downstream_of(uri: str) -> Node:
    """Return the downstream lineage tree of ``models:/``, ``datasets:/`` or ``runs:/`` URIs."""
    store = get_store()
    kind, entity_id = entity_of(store, uri)
    return downstream(store, kind, entity_id)


def entity_of(store: SqlStore, uri: str) -> tuple[str, str]:
    """Return the lineage kind and id of the model version, dataset version or run.

    Raises:
        InvalidURIError: ``uri`` has none of the three forms.
        ConfigError: A dataset URI names a tag.
        NotFoundError: The entity does not exist.
    """
    if uri.startswith("models:/"):
        ref = parse_model_uri(uri)
        version = (
            ref.version
            if ref.version is not None
            else store.resolve_alias(ref.name, str(ref.alias))
        )
        return "model_version", store.get_model_version(ref.name, version).id
    if uri.startswith("datasets:/"):
        dataset = parse_dataset_uri(uri)
        number = int(dataset.ref) if dataset.ref and dataset.ref.isdigit() else None
        if dataset.ref and number is None:
            raise ConfigError(
                f"dataset tags are not supported yet in {uri!r}; "
                "use datasets:/NAME@VERSION",
                setting="uri",
                value=uri,
            )
        return "dataset_version", store.get_dataset_version(dataset.name, number).id
    if uri.startswith("runs:/"):
        return "run", store.get_run(parse_run_uri(uri).run_id).id
    raise InvalidURIError(
        f"invalid URI {uri!r}; use models:/NAME@ALIAS, models:/NAME/VERSION, "
        "datasets:/NAME@VERSION or runs:/RUN_ID",
        uri=uri,
    )
