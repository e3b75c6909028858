"""dlib's face ResNet (`dlib_face_recognition_resnet_model_v1.dat`, shipped by
face_recognition_models) run by torch, with the weights read from dlib's own file.

Why: dlib runs this network in ~80 ms a chip on this CPU and holds Python's GIL while it
does; the same arithmetic in torch takes ~7 ms and lets other threads run. The file is read
as dlib writes it (dlib/serialize.h and the dnn layers' serialize functions): integers as a
length byte (bit 7: negative) then that many little-endian bytes, strings as an integer
length then the characters, floats in the input layer as mantissa and exponent integers,
tensors as version 2, four dimensions and raw little-endian float32. Only what this network
holds is read: each `con_4` (weights, bias, stride, padding), `affine_` (the batch norms,
already folded to a scale and a shift), `fc_2` (the 128-d projection, no bias) and the input
layer's mean colour. The layer order in the file is input to output, and the wiring is
dlib's example (dnn_face_recognition_ex.cpp): a 7x7/2 convolution, a 3x3/2 max pool, then 14
residual blocks (two 3x3 convolutions each; the first of 64, 128 and 256 filters, and the
second 256, halve the size: 3x3/2 without padding, the shortcut a 2x2/2 average pool, the
sum zero-padded where the two differ in size or channels, as dlib's add_prev does), a mean
over the picture and the projection. tests/test_encoders.py checks it against dlib itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lipauth.errors import BackendUnavailableError

# residual blocks, input to output: (filters, halves the size)
BLOCKS = [(32, False)] * 3 + [(64, True)] + [(64, False)] * 3 + [(128, True)] + [(128, False)] * 2 + [(256, True)] + [(256, False)] * 2 + [(256, True)]


class _Reader:
    """dlib's serialisation, read from a bytes object."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def int(self) -> int:
        head = self.data[self.pos]
        size, negative = head & 0x0F, head & 0x80
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if negative else value

    def float(self) -> float:
        mantissa = self.int()
        return float(mantissa * 2.0 ** self.int())

    def tensor(self) -> np.ndarray:
        if self.int() != 2:
            raise ValueError("tensor version is not 2")
        shape = tuple(self.int() for _ in range(4))
        n = int(np.prod(shape))
        values = np.frombuffer(self.data, "<f4", n, self.pos).reshape(shape)
        self.pos += 4 * n
        return values


@dataclass
class _Conv:
    weight: np.ndarray  # (out, in, kh, kw)
    bias: np.ndarray
    stride: int
    padding: int


def _tokens(data: bytes, name: str) -> list[int]:
    """Offsets just after each serialised occurrence of the string `name`."""
    token = bytes([1, len(name)]) + name.encode()
    found, at = [], data.find(token)
    while at >= 0:
        found.append(at + len(token))
        at = data.find(token, at + 1)
    return found


def read_dlib_resnet(path: str | Path) -> dict:
    """{"mean": RGB mean, "convs": [_Conv], "affines": [(scale, shift)], "fc": (256, 128)}."""
    try:
        data = Path(path).read_bytes()
        reader = _Reader(data, _tokens(data, "input_rgb_image_sized")[0])
        mean = np.array([reader.float() for _ in range(3)], np.float32)
        convs = []
        for at in _tokens(data, "con_4"):
            r = _Reader(data, at)
            params = r.tensor().reshape(-1)
            filters, rows, cols = r.int(), r.int(), r.int()
            stride_y, stride_x, pad_y, pad_x = r.int(), r.int(), r.int(), r.int()
            if stride_y != stride_x or pad_y != pad_x or rows != cols:
                raise ValueError("an unsquare convolution")
            inputs = (params.size - filters) // (filters * rows * cols)
            n_weights = filters * inputs * rows * cols
            convs.append(_Conv(params[:n_weights].reshape(filters, inputs, rows, cols), params[n_weights:], stride_y, pad_y))
        affines = []
        for at in _tokens(data, "affine_"):
            params = _Reader(data, at).tensor().reshape(-1)
            affines.append((params[: params.size // 2], params[params.size // 2 :]))
        r = _Reader(data, _tokens(data, "fc_2")[0])
        outputs, inputs = r.int(), r.int()
        fc = r.tensor().reshape(inputs, outputs)
    except (OSError, IndexError, ValueError) as exc:
        raise BackendUnavailableError(f"{path}: not dlib's face ResNet as this reader knows it ({exc})") from exc
    if len(convs) != 1 + 2 * len(BLOCKS) or len(affines) != len(convs):
        raise BackendUnavailableError(f"{path}: {len(convs)} convolutions and {len(affines)} batch norms, expected {1 + 2 * len(BLOCKS)} of each")
    return {"mean": mean, "convs": convs, "affines": affines, "fc": fc}


def _folded(conv: _Conv, affine: tuple[np.ndarray, np.ndarray]) -> nn.Conv2d:
    """A convolution with the batch norm after it folded into its weights and bias."""
    scale, shift = affine
    out, inp, k, _ = conv.weight.shape
    folded = nn.Conv2d(inp, out, k, conv.stride, conv.padding)
    with torch.no_grad():
        folded.weight.copy_(torch.from_numpy(conv.weight * scale[:, None, None, None]))
        folded.bias.copy_(torch.from_numpy(conv.bias * scale + shift))
    return folded


def _add_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a + b, each zero-padded at the end of every dimension to the larger one (dlib's add_prev)."""
    if a.shape == b.shape:
        return a + b
    size = [max(x, y) for x, y in zip(a.shape[1:], b.shape[1:])]

    def grown(t):
        return F.pad(t, (0, size[2] - t.shape[3], 0, size[1] - t.shape[2], 0, size[0] - t.shape[1]))

    return grown(a) + grown(b)


class _Residual(nn.Module):
    def __init__(self, first: nn.Conv2d, second: nn.Conv2d, down: bool) -> None:
        super().__init__()
        self.first, self.second, self.down = first, second, down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.second(F.relu(self.first(x)))
        shortcut = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(_add_padded(y, shortcut))


class DlibFaceResNet(nn.Module):
    """(n, 150, 150, 3) uint8 RGB aligned chips -> (n, 128) descriptors, as dlib computes them."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        w = read_dlib_resnet(path)
        layers = [_folded(c, a) for c, a in zip(w["convs"], w["affines"])]
        self.stem = layers[0]
        self.blocks = nn.Sequential(*(_Residual(layers[1 + 2 * i], layers[2 + 2 * i], down) for i, (_, down) in enumerate(BLOCKS)))
        for block, (filters, down) in zip(self.blocks, BLOCKS):
            if block.second.out_channels != filters or (block.first.stride[0] == 2) != down:
                raise BackendUnavailableError(f"{path}: its residual blocks are not dlib's face ResNet's")
        self.register_buffer("mean", torch.from_numpy(w["mean"]).view(1, 3, 1, 1))
        self.fc = nn.Linear(*w["fc"].shape, bias=False)
        with torch.no_grad():
            self.fc.weight.copy_(torch.from_numpy(np.ascontiguousarray(w["fc"].T)))
        self.eval().requires_grad_(False)

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        x = (chips.permute(0, 3, 1, 2).float() - self.mean) / 256.0  # dlib's input_rgb_image
        x = F.max_pool2d(F.relu(self.stem(x)), 3, 2)
        x = self.blocks(x)
        return self.fc(x.mean(dim=(2, 3)))

    def descriptors(self, chips: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self(torch.from_numpy(np.ascontiguousarray(chips))).numpy()
