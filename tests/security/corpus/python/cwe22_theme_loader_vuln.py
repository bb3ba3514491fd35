from pathlib import Path

THEMES = Path("/usr/share/app/themes")


def load_stylesheet(theme):
    """The CSS of a theme shipped with the application."""
    return (THEMES / theme / "style.css").read_text(encoding="utf-8")


def theme_installed(theme):
    return Path(THEMES, theme + ".json").exists()
