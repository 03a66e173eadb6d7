"""The customer portal: links that let one customer read its own billing for a while."""
