"""Live chat: the WebSocket gateway, connection hub, frame codec and the chat service."""
