"""RadVoice: talk to a chest CT.

Core packages (imaging, audio, nn, data, training, library, eval) import no Qt; the GUI lives in
``radvoice.app``.
"""

__version__ = "0.1.0"
