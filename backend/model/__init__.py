"""The qubes model: classes, properties, features, tags, labels and the app."""
