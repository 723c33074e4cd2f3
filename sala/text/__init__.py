"""Members' text: Markdown cooked once into sanitised HTML, with its mentions and links."""
