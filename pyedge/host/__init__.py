"""Host tool: talk to a device agent over the wire protocol (docs/wire-protocol.md), flash, run
and profile models on boards."""
from .device import Device, DeviceInfo
from .protocol import DeviceError, LinkError, LinkTimeout
from .transports import FaultyTransport, LoopbackTransport, SerialTransport

__all__ = ["Device", "DeviceInfo", "DeviceError", "LinkError", "LinkTimeout", "FaultyTransport",
           "LoopbackTransport", "SerialTransport"]
