from .beamclip import BeamCLIP

__all__ = ['BeamCLIP']
