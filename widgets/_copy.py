"""CopyButton: a button that puts a text on the clipboard (an anywidget).

The browser's clipboard can only be written from the page, on a click, so the copying happens
in the front end (``copy.js``); Python sets ``text`` and ``description``. ``copied`` counts the
successful copies (the page reports them back).
"""
from __future__ import annotations

import pathlib

import anywidget
import traitlets


class CopyButton(anywidget.AnyWidget):
    """A button labelled ``description`` that copies ``text`` when clicked."""

    _esm = pathlib.Path(__file__).with_name("copy.js")

    text = traitlets.Unicode("").tag(sync=True)
    description = traitlets.Unicode("Copy").tag(sync=True)
    tooltip = traitlets.Unicode("").tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)
    copied = traitlets.Int(0).tag(sync=True)
