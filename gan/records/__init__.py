"""A study's typed records: the layout of its folder, atomic writes, integrity checks and every record it writes and reads back."""
