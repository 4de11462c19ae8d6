"""Comments under the practice's articles: threads, moderation, spam defences and their pages."""
