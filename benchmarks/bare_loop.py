"""The seed article's own timing loop, as a plain script: the yardstick for xeonsweep.

python benchmarks/bare_loop.py BATCH ITERATIONS  ->  prints samples per second
"""

import sys
import time

import torch
import torchvision


def main(batch_size: int, iterations: int) -> None:
    torch.manual_seed(0)
    model = torchvision.models.resnet50().eval()
    batch = torch.randn(batch_size, 3, 224, 224)
    with torch.inference_mode():
        for _ in range(10):
            model(batch)
        start = time.perf_counter()
        for _ in range(iterations):
            model(batch)
        elapsed = time.perf_counter() - start
    print(batch_size * iterations / elapsed)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
