from pathlib import Path

THEMES = Path("/usr/share/app/themes")


def _theme_dir(theme):
    folder = (THEMES / theme).resolve()
    if not folder.is_relative_to(THEMES):
        raise ValueError(f"not a theme: {theme!r}")
    return folder


def load_stylesheet(theme):
    """The CSS of a theme shipped with the application."""
    return _theme_dir(theme).joinpath("style.css").read_text(encoding="utf-8")


def theme_installed(theme):
    return _theme_dir(theme).with_suffix(".json").exists()
