"""Server-rendered portal: thin views that translate form input into service calls."""
