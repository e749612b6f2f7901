"""`python -m flames.store verify [STORE]`."""

from flames.store.verify import main

raise SystemExit(main())
