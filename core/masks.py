"""What the adapters keep: the main object of an image (mask, alpha, or an automatic GrabCut estimate) and
the first face (OpenCV's Haar cascade, shipped inside opencv-python: nothing is downloaded)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from .errors import HiResInputError

_FACE_CASCADE = "haarcascade_frontalface_default.xml"


@dataclass(frozen=True)
class FaceBox:
    x: int
    y: int
    w: int
    h: int


def _to_uint8_rgb(rgb: torch.Tensor) -> np.ndarray:
    """CHW float [0, 1] -> HWC uint8 RGB."""
    return (rgb.clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def grabcut_object_mask(rgb: torch.Tensor, margin: float = 0.08, iterations: int = 5) -> torch.Tensor:
    """The automatic main-object estimate when there is neither a MASK nor alpha: OpenCV's GrabCut started
    from a centred box that leaves `margin` of each side as sure background. CHW RGB -> HW mask (1 = object)."""
    image = _to_uint8_rgb(rgb)
    h, w = image.shape[:2]
    mx, my = max(1, round(w * margin)), max(1, round(h * margin))
    if w - 2 * mx < 2 or h - 2 * my < 2:
        return torch.ones(h, w)
    mask = np.zeros((h, w), np.uint8)
    background = np.zeros((1, 65), np.float64)
    foreground = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut's GMM initialisation is random: keep it repeatable
    cv2.grabCut(np.ascontiguousarray(image[:, :, ::-1]), mask, (mx, my, w - 2 * mx, h - 2 * my), background,
                foreground, iterations, cv2.GC_INIT_WITH_RECT)
    keep = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    return torch.from_numpy(keep.astype(np.float32))


def object_mask(rgb: torch.Tensor, alpha: torch.Tensor | None, mask: torch.Tensor | None) -> torch.Tensor:
    """The main object of one image (CHW RGB): the MASK if given, else the alpha channel if it has any
    transparency, else GrabCut's estimate. HW float, 1 = keep."""
    if mask is not None:
        return (mask.float() > 0.5).float()
    if alpha is not None and alpha.min() < 0.999:
        return (alpha[0].float() > 0.5).float()
    return grabcut_object_mask(rgb)


def find_face(rgb: torch.Tensor) -> FaceBox | None:
    """The most prominent (largest) frontal face found by OpenCV's Haar cascade, or None."""
    gray = cv2.cvtColor(_to_uint8_rgb(rgb), cv2.COLOR_RGB2GRAY)
    detector = cv2.CascadeClassifier(cv2.data.haarcascades + _FACE_CASCADE)
    size = max(24, min(gray.shape) // 12)
    faces = detector.detectMultiScale(cv2.equalizeHist(gray), scaleFactor=1.1, minNeighbors=5, minSize=(size, size))
    if len(faces) == 0:
        return None
    x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
    return FaceBox(int(x), int(y), int(w), int(h))


def require_face(rgb: torch.Tensor) -> FaceBox:
    """The first face of one CHW RGB image, or the clear error the face adapter gives without one."""
    face = find_face(rgb)
    if face is None:
        raise HiResInputError("image", f"{rgb.shape[-1]}x{rgb.shape[-2]}", "no face was found in the image",
                              "use a photo with a clear frontal face, or another adapter_type")
    return face


def face_mask(rgb: torch.Tensor, face_id: bool) -> torch.Tensor:
    """HW mask (1 = keep) of the first face: with face_id the face alone (an ellipse inside the detected box),
    without it the face with its hair (an ellipse grown sideways and upwards)."""
    face = require_face(rgb)
    h, w = rgb.shape[-2:]
    cx, cy = face.x + face.w / 2, face.y + face.h / 2
    if face_id:
        ax, ay = face.w * 0.4, face.h * 0.5  # inside the detected box: no hair, no forehead above it
    else:
        ax, ay = face.w * 0.8, face.h * 0.95
        cy -= face.h * 0.2
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32) + 0.5, torch.arange(w, dtype=torch.float32) + 0.5,
                            indexing="ij")
    return ((((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2) <= 1.0).float()
