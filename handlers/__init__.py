"""aiogram routers, keyboards, callback data and card texts; ``handlers.routers`` assembles them."""
