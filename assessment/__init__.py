"""The assessment domain: the rules workledger serves. Nothing here knows about Telegram."""
