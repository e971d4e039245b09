from vibe_audit.cli import main

main()
