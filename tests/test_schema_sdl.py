from schema.export import SDL_PATH, current_sdl


def test_exported_sdl_matches_the_code() -> None:
    """Run ``python -m schema.export`` after a schema change, and review the diff."""
    assert SDL_PATH.read_text() == current_sdl()
