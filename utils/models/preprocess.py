"""How an image encoder turns a photo into its input: ``Preprocess`` in two stages (geometry, then
normalisation) that compose exactly into the model's own preprocessing, for CLIP's
``CLIPImageProcessor`` and torchvision's ``ImageClassification`` transform (VGG16). The explanations
perturb the pixels between the two stages."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


class Preprocess:
    """PIL image -> model input tensor, in two stages that compose exactly into the model's own.

    ``geometry`` resizes and crops to the model's input size (uint8 HxWx3 array: the pixels the
    model sees, which the explanations perturb); ``normalise`` turns such an array into the
    normalised CHW float tensor. ``__call__`` is the two in a row (feature extraction).
    """

    def geometry(self, image: Image.Image) -> np.ndarray:
        raise NotImplementedError

    def normalise(self, array: np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    def normalise_batch(self, arrays) -> torch.Tensor:
        """``normalise`` over a batch of arrays (NxHxWx3), as one NCHW tensor: the same values
        as normalising each (tested), in one call where the processor allows."""
        return torch.stack([self.normalise(a) for a in arrays])

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return self.normalise(self.geometry(image))


class ClipPreprocess(Preprocess):
    """``CLIPImageProcessor`` (shortest side 224, bicubic, centre crop 224, CLIP mean/std), split in
    two."""

    def __init__(self, processor) -> None:
        self.processor = processor

    def geometry(self, image: Image.Image) -> np.ndarray:
        out = self.processor(
            images=image, do_rescale=False, do_normalize=False, return_tensors="pt"
        )["pixel_values"][0]
        return out.permute(1, 2, 0).contiguous().numpy().astype(np.uint8, copy=False)

    def normalise(self, array: np.ndarray) -> torch.Tensor:
        return self.processor(
            images=np.ascontiguousarray(array),
            do_resize=False,
            do_center_crop=False,
            return_tensors="pt",
        )["pixel_values"][0]

    def normalise_batch(self, arrays) -> torch.Tensor:
        return self.processor(
            images=[np.ascontiguousarray(a) for a in arrays],
            do_resize=False,
            do_center_crop=False,
            return_tensors="pt",
        )["pixel_values"]

    def __repr__(self) -> str:
        return f"CLIPPreprocess({self.processor.to_json_string()})"


class TorchvisionPreprocess(Preprocess):
    """torchvision's ``ImageClassification`` transform (VGG16: resize 256, crop 224, ImageNet
    mean/std), split in two."""

    def __init__(self, transform) -> None:
        self.transform = transform

    def geometry(self, image: Image.Image) -> np.ndarray:
        from torchvision.transforms import functional as F

        t = self.transform
        image = F.resize(image, t.resize_size, interpolation=t.interpolation, antialias=t.antialias)
        return np.array(F.center_crop(image, t.crop_size))

    def normalise(self, array: np.ndarray) -> torch.Tensor:
        from torchvision.transforms import functional as F

        tensor = torch.from_numpy(np.ascontiguousarray(array)).movedim(-1, -3).contiguous()
        return F.normalize(
            F.convert_image_dtype(tensor, torch.float),
            mean=self.transform.mean,
            std=self.transform.std,
        )

    def normalise_batch(self, arrays) -> torch.Tensor:
        return self.normalise(np.asarray(arrays))  # the same element-wise steps on NHWC

    def __repr__(self) -> str:
        return repr(self.transform)
