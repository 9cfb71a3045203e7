"""Wire messages: msgspec Structs for client<->gateway and node<->node traffic."""
