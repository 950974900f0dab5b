"""A microphone for wyoming-satellite's --mic-command: once the test creates the trigger file (the
gateway is connected and listening), write the raw PCM to stdout in real time, then silence."""

import os
import sys
import time

path, trigger = sys.argv[1], sys.argv[2]
chunk = 2048  # 64 ms of 16 kHz mono 16-bit
while not os.path.exists(trigger):
    sys.stdout.buffer.write(b"\0" * chunk)
    sys.stdout.buffer.flush()
    time.sleep(0.064)
with open(path, "rb") as audio:
    data = audio.read()
started = time.monotonic()
for index, offset in enumerate(range(0, len(data), chunk)):
    sys.stdout.buffer.write(data[offset : offset + chunk])
    sys.stdout.buffer.flush()
    time.sleep(max(0.0, started + (index + 1) * 0.064 - time.monotonic()))
while True:
    sys.stdout.buffer.write(b"\0" * chunk)
    sys.stdout.buffer.flush()
    time.sleep(0.064)
