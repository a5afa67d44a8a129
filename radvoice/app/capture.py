"""Screenshots of the whole window with the VTK panes composited in.

``QWidget.grab()`` shows native VTK panes black, so each visible render window is read back
with vtkWindowToImageFilter and painted over its place in the grabbed image.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QWidget


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """An ``(h, w, 3)`` uint8 array -> a QImage that owns a copy of the pixels."""
    arr = np.ascontiguousarray(rgb[:, :, :3], dtype=np.uint8)
    h, w, _ = arr.shape
    return QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def grab_composite(window: QWidget, panes: list) -> QImage:
    """Grab ``window`` and paint each pane's rendered pixels (``pane.widget``/``capture()``)."""
    pixmap = window.grab()
    image = pixmap.toImage().convertToFormat(QImage.Format.Format_RGB32)
    ratio = pixmap.devicePixelRatio() or 1.0
    image.setDevicePixelRatio(1.0)  # paint in physical pixels
    painter = QPainter(image)
    try:
        for pane in panes:
            widget = pane.widget
            if not widget.isVisible() or widget.width() <= 0 or widget.height() <= 0:
                continue
            top_left = widget.mapTo(window, QPoint(0, 0))
            target = QRect(
                int(top_left.x() * ratio),
                int(top_left.y() * ratio),
                int(widget.width() * ratio),
                int(widget.height() * ratio),
            )
            painter.drawImage(target, rgb_to_qimage(pane.capture()))
    finally:
        painter.end()
    return image
