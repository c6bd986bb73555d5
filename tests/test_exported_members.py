"""The package's public surface is deliberate: notebooks import only these names."""

import autonomic_lib


def test_public_names_are_pinned() -> None:
    assert autonomic_lib.__all__ == [
        "AutonomicError", "Catalog", "CatalogError", "ConfigError", "QueryError", "Recorder", "SandboxError",
        "Series", "Settings", "load_catalog", "make_api_client", "query_frame", "reconcile", "run_scenario",
        "submit_series", "validate_keys",
    ]
    for name in autonomic_lib.__all__:
        assert getattr(autonomic_lib, name).__module__.startswith("autonomic_lib.")
