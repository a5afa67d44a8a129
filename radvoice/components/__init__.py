"""Qt-free viewer components (napari's ``components``): the state the views show, its events,
and the patient-oriented display geometry. The GUI (:mod:`radvoice.app`) listens; the assistant
and the command registry change them without importing Qt."""
