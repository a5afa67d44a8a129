"""Fixed-size text in the corners and at the edges of a VTK view.

vtkCornerAnnotation re-fits its font on every render (about 0.2 s a frame on llvmpipe); plain
vtkTextActors with a fixed font size cost almost nothing until their text changes.
"""

from __future__ import annotations

from vtkmodules.vtkRenderingCore import vtkRenderer, vtkTextActor

# position -> (x, y) in normalized viewport coordinates, horizontal and vertical justification
# 0 lower left, 1 lower right, 2 upper left, 3 upper right, 4 bottom, 5 right, 6 left, 7 top
_PLACES = {
    0: (0.008, 0.012, "left", "bottom"),
    1: (0.992, 0.012, "right", "bottom"),
    2: (0.008, 0.988, "left", "top"),
    3: (0.992, 0.988, "right", "top"),
    4: (0.5, 0.012, "center", "bottom"),
    5: (0.992, 0.5, "right", "center"),
    6: (0.008, 0.5, "left", "center"),
    7: (0.5, 0.988, "center", "top"),
}


class OverlayText:
    """Eight text slots (same numbering as vtkCornerAnnotation)."""

    def __init__(self, renderer: vtkRenderer, font_size: int = 13) -> None:
        self.actors: dict[int, vtkTextActor] = {}
        for pos, (x, y, hj, vj) in _PLACES.items():
            actor = vtkTextActor()
            actor.SetTextScaleModeToNone()
            coord = actor.GetPositionCoordinate()
            coord.SetCoordinateSystemToNormalizedViewport()
            coord.SetValue(x, y)
            prop = actor.GetTextProperty()
            prop.SetFontSize(font_size)
            prop.SetFontFamilyToArial()
            prop.SetColor(0.86, 0.86, 0.86)
            prop.ShadowOn()
            getattr(
                prop, f"SetJustificationTo{hj.capitalize() if hj != 'center' else 'Centered'}"
            )()
            getattr(
                prop,
                f"SetVerticalJustificationTo{vj.capitalize() if vj != 'center' else 'Centered'}",
            )()
            actor.SetInput("")
            actor.PickableOff()
            renderer.AddViewProp(actor)
            self.actors[pos] = actor

    def set_text(self, pos: int, text: str) -> None:
        actor = self.actors[pos]
        if actor.GetInput() != text:
            actor.SetInput(text)

    def text(self, pos: int) -> str:
        return self.actors[pos].GetInput() or ""

    def set_color(self, pos: int, rgb: tuple[float, float, float]) -> None:
        self.actors[pos].GetTextProperty().SetColor(*rgb)
